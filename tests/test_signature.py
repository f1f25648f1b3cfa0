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

VECTORS = [
    pytest.param(URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", id="https"),
    pytest.param(URL.replace(".com", ".com:443"), PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=", id="https-port-443"),
    pytest.param(URL.replace("https", "http").replace(".com", ".com:80"), PARAMS, "0ZXoZLH/DfblKGATFgpif+LLRf4=",
                 id="http-port-80"),
    pytest.param(URL.replace("https", "http").replace(".com", ".com:1234"), PARAMS, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
                 id="http-port-1234"),
    pytest.param(URL, DUPLICATES, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", id="duplicated-parameter"),
    pytest.param(JSON_URL, [], "a9nBmqA0ju/hNViExpshrM61xv4=", id="json-body-sha256-no-params"),
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
        pytest.param(URL, "kvajT1Ptam85bY51eRf/AJRuM3w=", id="https-signed-with-443-added"),
        pytest.param(URL.replace(".com", ".com:443"), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", id="https-signed-with-443-removed"),
        pytest.param(URL.replace(".com", ".com:1234"), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", id="https-signed-with-port-removed"),
        pytest.param(URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4=", id="http-signed-with-80-added"),
    ],
)
def test_is_valid_signature_accepts_the_port_spellings_twilio_uses(url: str, signature: str) -> None:
    assert is_valid_signature(url, PARAMS, signature, TOKEN)


def test_duplicated_parameter_signs_deduplicated_sorted_values() -> None:
    # Notes §4: the signed string ends "…Digits1234Digits5678SidCA123SidAccountAC123".
    text = URL + "Digits1234Digits5678SidCA123SidAccountAC123"
    independent = base64.b64encode(hmac.new(TOKEN.encode(), text.encode(), hashlib.sha1).digest()).decode()

    assert compute_signature(URL, DUPLICATES, TOKEN) == independent == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert compute_signature(URL, {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234", "1234"]},
                             TOKEN) == independent


def test_json_body_vector_hash_matches_its_body() -> None:
    assert hashlib.sha256(JSON_BODY).hexdigest() == JSON_SHA256


@pytest.mark.parametrize(
    ("url", "params", "signature", "token"),
    [
        pytest.param(URL, {**PARAMS, "Digits": "1235"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", TOKEN, id="tampered-param-value"),
        pytest.param(URL, {**PARAMS, "Extra": "1"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", TOKEN, id="added-param"),
        pytest.param(URL, {k: v for k, v in PARAMS.items() if k != "To"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", TOKEN,
                     id="dropped-param"),
        pytest.param(URL.replace("foo=1", "foo=2"), PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", TOKEN, id="tampered-query"),
        pytest.param(URL.replace("myapp", "yourapp"), PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", TOKEN, id="tampered-path"),
        pytest.param(URL.replace("mycompany", "evil"), PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", TOKEN, id="tampered-host"),
        pytest.param(URL.replace("https", "http"), PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", TOKEN, id="tampered-scheme"),
        pytest.param(URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12346", id="other-token"),
        pytest.param(URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B9=", TOKEN, id="tampered-signature"),
        pytest.param(URL, PARAMS, "rsoydt4t1cutdk1pdd93/vvr8b8=", TOKEN, id="signature-case-changed"),
        pytest.param(URL, PARAMS, "", TOKEN, id="empty-signature"),
        pytest.param(JSON_URL.replace("0a1f", "0a1e"), [], "a9nBmqA0ju/hNViExpshrM61xv4=", TOKEN,
                     id="tampered-body-sha256"),
        pytest.param(URL, DUPLICATES[:-2], "IK+Dwps556ElfBT0I3Rgjkr1wJU=", TOKEN, id="duplicate-value-dropped"),
    ],
)
def test_is_valid_signature_rejects_tampering(url: str, params: object, signature: str, token: str) -> None:
    assert not is_valid_signature(url, params, signature, token)  # type: ignore[arg-type]


def test_parameter_order_does_not_matter() -> None:
    reversed_pairs = list(reversed(list(PARAMS.items())))

    assert compute_signature(URL, reversed_pairs, TOKEN) == compute_signature(URL, PARAMS, TOKEN)
