"""`X-Twilio-Signature` against the test vectors in the reference notes (§4)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connect_notebook._signature import compute_signature, is_valid_signature

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
DUPLICATES = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
JSON_BODY = b'{"property": "value", "boolean": true}'
JSON_SHA256 = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
JSON_URL = f"{URL}&bodySHA256={JSON_SHA256}"
URL_443 = URL.replace(".com", ".com:443")
URL_1234 = URL.replace(".com", ".com:1234")
HTTP_URL = URL.replace("https", "http")
HTTP_URL_80 = HTTP_URL.replace(".com", ".com:80")
HTTP_URL_1234 = HTTP_URL.replace(".com", ".com:1234")
SIG = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SIG_443 = "kvajT1Ptam85bY51eRf/AJRuM3w="
SIG_HTTP_80 = "0ZXoZLH/DfblKGATFgpif+LLRf4="
SIG_HTTP_1234 = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
SIG_DUPLICATES = "IK+Dwps556ElfBT0I3Rgjkr1wJU="
SIG_JSON = "a9nBmqA0ju/hNViExpshrM61xv4="

VECTORS = [
    pytest.param(URL, PARAMS, SIG, id="https"),
    pytest.param(URL_443, PARAMS, SIG_443, id="https-port-443"),
    pytest.param(HTTP_URL_80, PARAMS, SIG_HTTP_80, id="http-port-80"),
    pytest.param(HTTP_URL_1234, PARAMS, SIG_HTTP_1234, id="http-port-1234"),
    pytest.param(URL, DUPLICATES, SIG_DUPLICATES, id="duplicated-parameter"),
    pytest.param(JSON_URL, [], SIG_JSON, id="json-body-sha256-no-params"),
]


@pytest.mark.parametrize(("url", "params", "expected"), VECTORS)
def test_compute_signature_matches_notes_vector(url: str, params: object, expected: str) -> None:
    assert compute_signature(url, params, TOKEN) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("url", "params", "expected"), VECTORS)
def test_is_valid_signature_accepts_notes_vector(url: str, params: object, expected: str) -> None:
    assert is_valid_signature(url, params, expected, TOKEN)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        pytest.param(URL, SIG_443, id="https-signed-with-443-added"),
        pytest.param(URL_443, SIG, id="https-signed-with-443-removed"),
        pytest.param(URL_1234, SIG, id="https-signed-with-port-removed"),
        pytest.param(HTTP_URL, SIG_HTTP_80, id="http-signed-with-80-added"),
        pytest.param(HTTP_URL_80, SIG_HTTP_80, id="http-80-signed-as-sent"),
    ],
)
def test_is_valid_signature_accepts_the_port_spellings_twilio_uses(url: str, signature: str) -> None:
    assert is_valid_signature(url, PARAMS, signature, TOKEN)


def test_duplicated_parameter_signs_deduplicated_sorted_values() -> None:
    # Notes §4: the signed string ends "…Digits1234Digits5678SidCA123SidAccountAC123".
    text = URL + "Digits1234Digits5678SidCA123SidAccountAC123"
    independent = base64.b64encode(hmac.new(TOKEN.encode(), text.encode(), hashlib.sha1).digest()).decode()

    as_mapping = {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234", "1234"]}

    assert compute_signature(URL, DUPLICATES, TOKEN) == independent == SIG_DUPLICATES
    assert compute_signature(URL, as_mapping, TOKEN) == independent


def test_json_body_vector_hash_matches_its_body() -> None:
    assert hashlib.sha256(JSON_BODY).hexdigest() == JSON_SHA256


@pytest.mark.parametrize(
    ("url", "params", "signature", "token"),
    [
        pytest.param(URL, {**PARAMS, "Digits": "1235"}, SIG, TOKEN, id="tampered-param-value"),
        pytest.param(URL, {**PARAMS, "Extra": "1"}, SIG, TOKEN, id="added-param"),
        pytest.param(URL, {k: v for k, v in PARAMS.items() if k != "To"}, SIG, TOKEN, id="dropped-param"),
        pytest.param(URL.replace("foo=1", "foo=2"), PARAMS, SIG, TOKEN, id="tampered-query"),
        pytest.param(URL.replace("myapp", "yourapp"), PARAMS, SIG, TOKEN, id="tampered-path"),
        pytest.param(URL.replace("mycompany", "evil"), PARAMS, SIG, TOKEN, id="tampered-host"),
        pytest.param(HTTP_URL, PARAMS, SIG, TOKEN, id="tampered-scheme"),
        pytest.param(URL, PARAMS, SIG, "12346", id="other-token"),
        pytest.param(URL, PARAMS, SIG[:-2] + "9=", TOKEN, id="tampered-signature"),
        pytest.param(URL, PARAMS, SIG.lower(), TOKEN, id="signature-case-changed"),
        pytest.param(URL, PARAMS, "", TOKEN, id="empty-signature"),
        pytest.param(JSON_URL.replace("0a1f", "0a1e"), [], SIG_JSON, TOKEN, id="tampered-body-sha256"),
        pytest.param(URL, DUPLICATES[:-2], SIG_DUPLICATES, TOKEN, id="duplicate-value-dropped"),
    ],
)
def test_is_valid_signature_rejects_tampering(url: str, params: object, signature: str, token: str) -> None:
    assert not is_valid_signature(url, params, signature, token)  # type: ignore[arg-type]


def test_parameter_order_does_not_matter() -> None:
    reversed_pairs = list(reversed(list(PARAMS.items())))

    assert compute_signature(URL, reversed_pairs, TOKEN) == compute_signature(URL, PARAMS, TOKEN)
