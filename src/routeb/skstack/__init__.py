"""SKSTACK IP: the text protocol of Wi-SUN modules, sans-IO, in both directions."""
