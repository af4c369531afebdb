package awslocal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Options configure a Server.
type Options struct {
	// DynamoDB is the URL of the DynamoDB Local that allowed calls go to.
	DynamoDB string
	// Region and AccountID place the resources (ARNs) and the signatures'
	// scope. Empty: DefaultRegion, DefaultAccountID.
	Region, AccountID string
	// Principals are the callers, by access key id.
	Principals map[string]Principal
	// Secrets are the Secrets Manager secrets GetSecretValue serves.
	Secrets []Secret
	// Log gets one line per denied or refused call; nil discards them.
	Log io.Writer
}

// Server is DynamoDB and Secrets Manager on one endpoint, as the functions'
// SDK clients see them in AWS: every call authenticated by its SigV4
// signature and checked against the caller's policy. DynamoDB calls that
// pass go on to DynamoDB Local unchanged; Secrets Manager is served here.
type Server struct {
	region, account string
	principals      map[string]Principal
	proxy           *httputil.ReverseProxy
	signer          *v4.Signer
	log             io.Writer

	mu      sync.Mutex
	secrets []*secret
	denials []Denial
	calls   map[Call]int
}

// Call is a kind of call a caller made: who, and which operation.
type Call struct {
	// Principal is the caller's assumed-role ARN.
	Principal string
	// Target is the operation's X-Amz-Target, e.g. DynamoDB_20120810.GetItem.
	Target string
}

// Calls counts the calls of each kind that authenticated callers made so
// far, allowed or denied: what a request cost in calls.
func (s *Server) Calls() map[Call]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Call]int, len(s.calls))
	for c, n := range s.calls {
		out[c] = n
	}
	return out
}

// Denial is a call the server refused, and why.
type Denial struct {
	// Target is the call's X-Amz-Target, e.g. DynamoDB_20120810.PutItem.
	Target string
	// Principal is the caller's assumed-role ARN, or its access key id
	// when the key is unknown.
	Principal string
	// Code is the error the caller got: AccessDeniedException,
	// InvalidSignatureException, UnrecognizedClientException, ...
	Code string
	// Action and Resource, for AccessDeniedException, are the permission
	// no statement of the caller's policy grants (the first one checked,
	// as AWS reports it).
	Action, Resource string
	// Message is the error message the caller got.
	Message string
}

func (d Denial) String() string {
	if d.Action != "" {
		return fmt.Sprintf("awslocal: denied %s: %s may not %s on %s", d.Target, d.Principal, d.Action, d.Resource)
	}
	caller := d.Principal
	if caller == "" {
		caller = "an unauthenticated caller"
	}
	return fmt.Sprintf("awslocal: refused %q from %s: %s: %s", d.Target, caller, d.Code, d.Message)
}

// New makes a server for opts.
func New(opts Options) (*Server, error) {
	upstream, err := url.Parse(opts.DynamoDB)
	if err != nil || upstream.Scheme == "" || upstream.Host == "" {
		return nil, fmt.Errorf("awslocal: DynamoDB: %q is not the URL of a DynamoDB Local", opts.DynamoDB)
	}
	s := &Server{
		region: opts.Region, account: opts.AccountID,
		principals: map[string]Principal{},
		signer:     v4.NewSigner(),
		log:        opts.Log,
		calls:      map[Call]int{},
	}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if s.account == "" {
		s.account = DefaultAccountID
	}
	if s.log == nil {
		s.log = io.Discard
	}
	for key, p := range opts.Principals {
		if p.AccessKeyID != "" && p.AccessKeyID != key {
			return nil, fmt.Errorf("awslocal: principal %q has access key id %q under key %q", p.Role, p.AccessKeyID, key)
		}
		if key == "" || p.SecretAccessKey == "" {
			return nil, fmt.Errorf("awslocal: principal %q needs an access key id and a secret access key", p.Role)
		}
		p.AccessKeyID = key
		s.principals[key] = p
	}
	for _, sec := range opts.Secrets {
		if err := s.addSecret(sec); err != nil {
			return nil, err
		}
	}
	// Many functions call at once: keep a pool of connections to DynamoDB
	// Local rather than the default two idle ones.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	s.proxy = &httputil.ReverseProxy{
		// SetURL only: no X-Forwarded-* headers, the request as sent.
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(upstream) },
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.logf("awslocal: %s: DynamoDB Local at %s: %v", r.Header.Get("X-Amz-Target"), upstream, err)
			writeError(w, dynamoDB, http.StatusInternalServerError, &apiError{code: "InternalServerError", message: "DynamoDB Local at " + upstream.String() + " did not answer: " + err.Error()})
		},
	}
	return s, nil
}

// service is what tells DynamoDB and Secrets Manager apart on the wire.
type service struct {
	// name is the signing name in the credential scope, and the prefix of
	// the IAM actions.
	name         string
	targetPrefix string
	contentType  string
	// typePrefix is put before the error code in "__type" (JSON 1.0 names
	// the error shape with its namespace, JSON 1.1 without).
	typePrefix string
	// messageKey is the member holding the error message.
	messageKey string
}

var (
	dynamoDB = &service{
		name: "dynamodb", targetPrefix: "DynamoDB_20120810.", contentType: "application/x-amz-json-1.0",
		typePrefix: "com.amazon.coral.service#", messageKey: "message",
	}
	secretsManager = &service{
		name: "secretsmanager", targetPrefix: "secretsmanager.", contentType: "application/x-amz-json-1.1",
		messageKey: "Message",
	}
)

// apiError is an error answer.
type apiError struct {
	code, message string
	// action and resource name the missing permission of an
	// AccessDeniedException.
	action, resource string
}

// maxBody is beyond any request DynamoDB or Secrets Manager accepts (a
// BatchWriteItem holds at most 16 MB of items).
const maxBody = 32 << 20

// ServeHTTP serves one DynamoDB or Secrets Manager call, told apart by
// X-Amz-Target.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	var svc *service
	var op string
	for _, c := range []*service{dynamoDB, secretsManager} {
		if o, ok := strings.CutPrefix(target, c.targetPrefix); ok && o != "" {
			svc, op = c, o
		}
	}
	if svc == nil {
		s.refuse(w, dynamoDB, target, "", &apiError{code: "UnknownOperationException",
			message: fmt.Sprintf("X-Amz-Target %q names no operation of DynamoDB (DynamoDB_20120810.<Operation>) or Secrets Manager (secretsmanager.<Operation>)", target)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.refuse(w, svc, target, "", &apiError{code: "RequestEntityTooLarge", message: "Request body exceeds " + strconv.Itoa(maxBody) + " bytes"})
		}
		return // otherwise the caller is gone
	}
	p, aerr := s.authenticate(r, body, svc.name)
	if aerr != nil {
		caller := p.AccessKeyID
		if caller != "" {
			caller = s.assumedRole(p)
		} else if a, ok := parseAuthorization(r.Header.Get("Authorization")); ok {
			caller = "access key " + a.keyID
		}
		s.refuse(w, svc, target, caller, aerr)
		return
	}
	s.mu.Lock()
	s.calls[Call{Principal: s.assumedRole(p), Target: target}]++
	s.mu.Unlock()
	switch svc {
	case dynamoDB:
		s.serveDynamoDB(w, r, p, op, body)
	case secretsManager:
		s.serveSecretsManager(w, p, op, body)
	}
}

// assumedRole is the ARN IAM names a caller by.
func (s *Server) assumedRole(p Principal) string {
	return "arn:aws:sts::" + s.account + ":assumed-role/" + p.Role + "/" + p.Session
}

// authorize returns an AccessDeniedException for the first of checks that
// p's policy does not allow, worded as IAM words it.
func (s *Server) authorize(p Principal, checks []check) *apiError {
	for _, c := range checks {
		if !p.allows(c.action, c.resource) {
			return &apiError{
				code: "AccessDeniedException",
				message: "User: " + s.assumedRole(p) + " is not authorized to perform: " + c.action + " on resource: " + c.resource +
					" because no identity-based policy allows the " + c.action + " action",
				action: c.action, resource: c.resource,
			}
		}
	}
	return nil
}

// check is one permission a call needs.
type check struct{ action, resource string }

// refuse answers e, records the call and logs it.
func (s *Server) refuse(w http.ResponseWriter, svc *service, target, caller string, e *apiError) {
	status := http.StatusBadRequest
	if e.code == "RequestEntityTooLarge" {
		status = http.StatusRequestEntityTooLarge
	}
	d := Denial{Target: target, Principal: caller, Code: e.code, Action: e.action, Resource: e.resource, Message: e.message}
	s.mu.Lock()
	s.denials = append(s.denials, d)
	fmt.Fprintln(s.log, d)
	s.mu.Unlock()
	writeError(w, svc, status, e)
}

// Denials returns the calls refused so far, oldest first.
func (s *Server) Denials() []Denial {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Denial(nil), s.denials...)
}

func (s *Server) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.log, format+"\n", args...)
}

// writeError answers an error as svc's protocol does.
func writeError(w http.ResponseWriter, svc *service, status int, e *apiError) {
	body, _ := json.Marshal(map[string]string{"__type": svc.typePrefix + e.code, svc.messageKey: e.message})
	writeJSON(w, svc, status, body)
}

// writeJSON answers body with the headers the services send: a request id
// and, from DynamoDB, the body's CRC32, which the SDK checks.
func writeJSON(w http.ResponseWriter, svc *service, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", svc.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-Requestid", requestID())
	if svc == dynamoDB {
		h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
