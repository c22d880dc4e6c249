"""protocols/webrtc."""
