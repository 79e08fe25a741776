"""Every fault test fails if ib_async could not decode a message or match it to a request."""

from tests.ib.fake_tws_support import no_decoding_errors

__all__ = ["no_decoding_errors"]
