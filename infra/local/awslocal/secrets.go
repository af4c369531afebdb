package awslocal

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Secret is a Secrets Manager secret: its ARN and the SecretString of its
// AWSCURRENT and, if any, AWSPREVIOUS versions.
type Secret struct {
	ARN      string
	Current  string
	Previous string // empty: no AWSPREVIOUS version
}

type secret struct {
	arn, name         string
	current, previous *secretVersion
}

type secretVersion struct {
	id, value string
	created   time.Time
}

func newVersion(value string, created time.Time) *secretVersion {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80 // a version 4 UUID, as Secrets Manager's
	return &secretVersion{
		id:    fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]),
		value: value, created: created,
	}
}

const secretARNPrefix = "arn:aws:secretsmanager:"

// secretName is the name in a secret's ARN, without the six characters
// Secrets Manager appends to it.
func secretName(arn string) string {
	_, name, _ := strings.Cut(arn, ":secret:")
	if i := len(name) - 7; i > 0 && name[i] == '-' {
		return name[:i]
	}
	return name
}

func (s *Server) addSecret(sec Secret) error {
	if !strings.HasPrefix(sec.ARN, secretARNPrefix) || !strings.Contains(sec.ARN, ":secret:") {
		return fmt.Errorf("awslocal: secret %q: not a Secrets Manager ARN (%s<region>:<account>:secret:<name>-<6 characters>)", sec.ARN, secretARNPrefix)
	}
	if sec.Current == "" {
		return fmt.Errorf("awslocal: secret %s: no current value", sec.ARN)
	}
	if s.findSecret(sec.ARN) != nil {
		return fmt.Errorf("awslocal: secret %s given twice", sec.ARN)
	}
	now := time.Now()
	st := &secret{arn: sec.ARN, name: secretName(sec.ARN), current: newVersion(sec.Current, now)}
	if sec.Previous != "" {
		st.previous = newVersion(sec.Previous, now.Add(-time.Second))
	}
	s.secrets = append(s.secrets, st)
	return nil
}

// SetSecret puts a new AWSCURRENT value in the secret arn, as a rotation
// does: the version that was current becomes AWSPREVIOUS. A secret not
// known yet is created.
func (s *Server) SetSecret(arn, current string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.findSecret(arn)
	if st == nil {
		st = &secret{arn: arn, name: secretName(arn)}
		s.secrets = append(s.secrets, st)
	}
	if st.current != nil {
		st.previous = st.current
	}
	st.current = newVersion(current, time.Now())
}

// findSecret finds a secret by its ARN, its ARN without the suffix, or its
// name, as SecretId may give it. The caller holds s.mu (or is New).
func (s *Server) findSecret(id string) *secret {
	for _, st := range s.secrets {
		if id == st.arn || id == st.name || id == st.partialARN() {
			return st
		}
	}
	return nil
}

// partialARN is the ARN without the suffix Secrets Manager appends.
func (st *secret) partialARN() string {
	head, _, ok := strings.Cut(st.arn, ":secret:")
	if !ok {
		return st.arn
	}
	return head + ":secret:" + st.name
}

type getSecretValueInput struct {
	SecretID     string `json:"SecretId"`
	VersionID    string `json:"VersionId"`
	VersionStage string
}

type getSecretValueOutput struct {
	ARN           string
	Name          string
	SecretString  string
	VersionID     string `json:"VersionId"`
	VersionStages []string
	// CreatedDate is in epoch seconds, as JSON 1.1 sends timestamps.
	CreatedDate float64
}

// Staging labels.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// serveSecretsManager answers GetSecretValue for the secrets it holds.
func (s *Server) serveSecretsManager(w http.ResponseWriter, p Principal, op string, body []byte) {
	target := secretsManager.targetPrefix + op
	caller := s.assumedRole(p)
	if op != "GetSecretValue" {
		s.refuse(w, secretsManager, target, caller, &apiError{code: "UnsupportedOperationException",
			message: "secretsmanager." + op + " is not supported by the local endpoint (infra/local/awslocal), which serves GetSecretValue only"})
		return
	}
	var in getSecretValueInput
	if err := json.Unmarshal(body, &in); err != nil {
		s.refuse(w, secretsManager, target, caller, &apiError{code: "SerializationException", message: err.Error()})
		return
	}
	s.mu.Lock()
	st := s.findSecret(in.SecretID)
	var out getSecretValueOutput
	var notFound string
	resource := in.SecretID
	switch {
	case st != nil:
		resource = st.arn
		out, notFound = st.value(in)
	case !strings.HasPrefix(resource, "arn:"):
		resource = secretARNPrefix + s.region + ":" + s.account + ":secret:" + in.SecretID
		fallthrough
	default:
		notFound = "Secrets Manager can't find the specified secret."
	}
	s.mu.Unlock()
	// IAM decides first: a caller without the permission learns nothing,
	// not even whether the secret exists.
	if e := s.authorize(p, []check{{"secretsmanager:GetSecretValue", resource}}); e != nil {
		s.refuse(w, secretsManager, target, caller, e)
		return
	}
	if notFound != "" {
		writeError(w, secretsManager, http.StatusBadRequest, &apiError{code: "ResourceNotFoundException", message: notFound})
		return
	}
	b, _ := json.Marshal(out)
	writeJSON(w, secretsManager, http.StatusOK, b)
}

// value picks the version asked for: by VersionId, else by VersionStage
// (AWSCURRENT when neither is given). It returns the message of a
// ResourceNotFoundException when there is no such version.
func (st *secret) value(in getSecretValueInput) (getSecretValueOutput, string) {
	var v *secretVersion
	var stage string
	switch {
	case in.VersionID != "":
		switch {
		case st.current != nil && st.current.id == in.VersionID:
			v, stage = st.current, stageCurrent
		case st.previous != nil && st.previous.id == in.VersionID:
			v, stage = st.previous, stagePrevious
		default:
			return getSecretValueOutput{}, "Secrets Manager can't find the specified secret value for VersionId: " + in.VersionID
		}
		if in.VersionStage != "" && in.VersionStage != stage {
			return getSecretValueOutput{}, "Secrets Manager can't find the specified secret value for staging label: " + in.VersionStage
		}
	case in.VersionStage == "" || in.VersionStage == stageCurrent:
		v, stage = st.current, stageCurrent
	case in.VersionStage == stagePrevious:
		v, stage = st.previous, stagePrevious
	}
	if v == nil {
		return getSecretValueOutput{}, "Secrets Manager can't find the specified secret value for staging label: " + in.VersionStage
	}
	return getSecretValueOutput{
		ARN: st.arn, Name: st.name, SecretString: v.value, VersionID: v.id,
		VersionStages: []string{stage},
		CreatedDate:   float64(v.created.UnixMilli()) / 1000,
	}, ""
}
