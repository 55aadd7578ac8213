"""Conversions a user already has, tracked like ours: a NeuroConv YAML specification
(``spec.py``) or the user's own ``NWBConverter`` subclass (``module.py``).

Both become a ``ConverterPlan`` (``plan.py``): the converter class, each interface's source
data and options, and the user's metadata layers. ``run.py`` turns a plan into a tracked
conversion: the metadata decided field by field and checked before anything is created, the
inputs referenced, the spec or the user's modules copied into ``scripts/`` beside a generated
``convert.py`` (``script.py``) that ``datalad run`` executes, then validation, a read-back of
every interface that has one (``evaluate.py``), and the tag.
"""

from .api import convert_spec, track_conversion

__all__ = ["convert_spec", "track_conversion"]
