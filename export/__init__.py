"""auroral.export: training runs → self-describing model bundles (ONNX fp32/fp16/int8, TensorRT)."""
