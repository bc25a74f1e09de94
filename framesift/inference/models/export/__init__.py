"""`framesift models export`: real weights -> framesift's Triton model repository.

Needs the `export` extra (torch, torchvision, OpenCLIP); nothing at run time imports this package.
"""
