"""Live playing: the ONNX policy, the float-only OSC codec, the UDP server and the offline duet replay.

Only the core install is needed here (numpy, onnxruntime, python-osc, soundfile).
"""
