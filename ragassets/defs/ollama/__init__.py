"""The `ollama` stage: the tuned model merged, written as a GGUF, with an Ollama Modelfile."""
