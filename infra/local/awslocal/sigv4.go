package awslocal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

const sigV4Algorithm = "AWS4-HMAC-SHA256"

// amzDate is the layout of X-Amz-Date.
const amzDate = "20060102T150405Z"

// parseAuthorization reads
// "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request,
// SignedHeaders=<h1;h2>, Signature=<hex>".
func parseAuthorization(h string) (authorization, bool) {
	var a authorization
	rest, ok := strings.CutPrefix(h, sigV4Algorithm+" ")
	if !ok {
		return a, false
	}
	var credential, signed string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, false
		}
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signed == "" || a.signature == "" {
		return a, false
	}
	a.keyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(signed, ";")
	return a, true
}

// Messages of the authentication errors, as AWS words them.
const (
	msgInvalidToken     = "The security token included in the request is invalid."
	msgSignatureInvalid = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// authenticate finds the principal whose key signed r and checks the
// signature, as the service would before looking at the call.
func (s *Server) authenticate(r *http.Request, body []byte, service string) (Principal, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, &apiError{code: "MissingAuthenticationTokenException", message: "Request is missing Authentication Token"}
	}
	a, ok := parseAuthorization(h)
	if !ok {
		return Principal{}, &apiError{code: "IncompleteSignatureException", message: "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters, signed with " + sigV4Algorithm + ": " + h}
	}
	p, ok := s.principals[a.keyID]
	if !ok {
		return Principal{}, &apiError{code: "UnrecognizedClientException", message: msgInvalidToken}
	}
	invalid := func(msg string) (Principal, *apiError) {
		return p, &apiError{code: "InvalidSignatureException", message: msg}
	}
	if a.service != service {
		return invalid("Credential should be scoped to correct service: '" + service + "'.")
	}
	if a.region != s.region {
		return invalid("Credential should be scoped to a valid region.")
	}
	t, err := time.Parse(amzDate, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return p, &apiError{code: "IncompleteSignatureException", message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if a.date != t.Format("20060102") {
		return invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + a.date + "' != '" + t.Format("20060102") + "'")
	}
	want, err := s.signature(r, body, a, p.SecretAccessKey, t)
	if err != nil || !hmac.Equal([]byte(want), []byte(a.signature)) {
		return invalid(msgSignatureInvalid)
	}
	return p, nil
}

// signature signs a copy of r that holds only the headers the caller
// signed, with the caller's signing time, and returns the signature the
// caller should have sent. The body is hashed as received, so a body
// changed on the way fails too.
func (s *Server) signature(r *http.Request, body []byte, a authorization, secret string, t time.Time) (string, error) {
	req := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	for _, name := range a.signedHeaders {
		switch name {
		case "host": // req.Host
		case "content-length":
			// The signer signs ContentLength, not the header.
			req.ContentLength = r.ContentLength
		default:
			if v := r.Header.Values(name); len(v) > 0 {
				req.Header[http.CanonicalHeaderKey(name)] = v
			}
		}
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if r.Header.Get("X-Amz-Content-Sha256") == "UNSIGNED-PAYLOAD" {
		payload = "UNSIGNED-PAYLOAD"
	}
	creds := aws.Credentials{AccessKeyID: a.keyID, SecretAccessKey: secret}
	if err := s.signer.SignHTTP(r.Context(), creds, req, payload, a.service, a.region, t); err != nil {
		return "", err
	}
	got, _ := parseAuthorization(req.Header.Get("Authorization"))
	return got.signature, nil
}
