"""The other side of every wire: an emulated Wi-SUN module and smart meter, with faults.

``clock`` holds the meter's clock (its own rate and skew) apart from the module's delay scale;
``household`` is the seeded physics of the home behind the meter (power, currents, energy,
history); ``profile`` is the configurable meter, loaded from TOML. None of them knows a wire
format: the ECHONET Lite and SKSTACK faces are built on top of them.
"""
