"""ECHONET Lite, sans-IO: frames, property maps, the node profile and the smart-meter class."""

from routeb.echonet.frame import (
    EOJ,
    ESV,
    Format2Frame,
    Frame,
    Property,
    decode_frame,
    encode_frame,
)
from routeb.echonet.propmap import decode_property_map, encode_property_map

__all__ = [
    "EOJ",
    "ESV",
    "Format2Frame",
    "Frame",
    "Property",
    "decode_frame",
    "decode_property_map",
    "encode_frame",
    "encode_property_map",
]
