"""The radio seam: one B-route session over any Wi-SUN module (issue 16 §1).

:mod:`.base` holds the module-neutral interface — configure with credentials, active scan
yielding :class:`~.base.Beacon`, join, send UDP, received datagrams, link events, reset,
terminate — and :mod:`.skstack` implements it for SKSTACK IP text modules (protocol.md §D).
The generic session (:mod:`routeb.driver.session`) sees only this interface, the way zigpy's
``ControllerApplication`` sees bellows or zigpy-znp.

Why a package beside ``skstack/`` and ``j11/`` rather than ``driver/radio.py``: each radio
depends on its sans-IO codec, the session depends only on :mod:`.base`; keeping the radios
out of ``driver/`` keeps that direction visible (the layering test checks it).
"""
