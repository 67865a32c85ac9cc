"""Serving: TF Serving clients, configs, `vqa-predict`, and the local stand-in for `tensorflow_model_server`."""
