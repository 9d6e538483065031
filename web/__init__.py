"""The HTTP adapter: the center's console and the Open311 partner API."""
