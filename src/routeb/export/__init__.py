"""What leaves routeb: MQTT with Home Assistant discovery, Prometheus metrics, exports."""
