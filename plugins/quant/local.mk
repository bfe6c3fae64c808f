# Quantization format plugins: one folder and one .so per format.
