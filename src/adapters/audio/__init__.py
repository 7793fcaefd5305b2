"""Audio adapters: decoding and inspecting uploads with PyAV."""
