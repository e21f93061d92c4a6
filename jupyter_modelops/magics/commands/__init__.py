"""One module per ``%modelops`` verb. See :mod:`jupyter_modelops.magics`."""
