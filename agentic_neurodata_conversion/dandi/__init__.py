"""From finished conversions to an upload-ready dandiset (`anc dandi organize`, `validate`).

assets.py      a completed conversion as an asset: NWB file, key, decided fields, records
naming.py      asset paths by the `dandi` package's own naming (dandi.organize)
provenance.py  provenance/: each asset's conversion and wasGeneratedBy (dandischema)
organize.py    the dandiset as a DataLad dataset, annex keys shared with the conversions
validate.py    `dandi validate` (offline) and our checks
offline.py     dandi without the network
"""
