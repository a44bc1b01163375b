"""bulkops: delete Kore.ai voice campaigns in bulk, politely and on the record."""

__version__ = "0.1.0"
