"""Score-based diffusion over architecture node features (method.md section 2)."""
