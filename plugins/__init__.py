"""advdl's built-in algorithm plugins (installed as ``advdl_plugins``), one package per family."""
