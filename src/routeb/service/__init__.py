"""Running under a service manager: the sd_notify client, the health watchdog, the unit file."""
