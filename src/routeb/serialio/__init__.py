"""Serial I/O to the Wi-SUN module (asyncio, through serialx), with typed device errors."""

from routeb.serialio.port import DEFAULT_BAUDRATE, ByteStream, SerialPort, open_serial

__all__ = ["DEFAULT_BAUDRATE", "ByteStream", "SerialPort", "open_serial"]
