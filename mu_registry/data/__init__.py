"""Task data: classification and generative splits, forget sets and requests, Hugging Face loading, sources."""
