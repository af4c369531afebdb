package lambdalocal

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Handler serves Lambda's Invoke API as the AWS SDKs call it
// (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html):
// POST /2015-03-31/functions/{FunctionName}/invocations, where
// FunctionName is a name, a partial ARN (123456789012:function:name) or
// an ARN, with at most the $LATEST qualifier. RequestResponse and DryRun
// invocations are served; Event (asynchronous) ones are not.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", s.serveInvoke)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeInvokeError(w, &InvokeError{Status: http.StatusNotFound, Type: "UnknownOperationException", Message: "Unknown operation " + r.Method + " " + r.URL.Path})
	})
	return mux
}

func (s *Service) serveInvoke(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", uuid.NewString())
	name, err := s.functionName(r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	if err != nil {
		writeInvokeError(w, err)
		return
	}
	payload, size, err := readUpTo(r.Body, MaxRequestPayload)
	if err != nil {
		return // the caller went away
	}
	switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
	case "", "RequestResponse":
	case "DryRun":
		if _, err := s.admit(name, size); err != nil {
			writeInvokeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		writeInvokeError(w, &InvokeError{Status: http.StatusBadRequest, Type: "InvalidParameterValueException",
			Message: "lambdalocal serves RequestResponse and DryRun invocations, not " + t})
		return
	}
	if size > MaxRequestPayload {
		_, err := s.admit(name, size)
		writeInvokeError(w, err)
		return
	}
	res, err := s.Invoke(r.Context(), name, payload)
	if err != nil {
		writeInvokeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", "$LATEST")
	if res.FunctionError != "" {
		h.Set("X-Amz-Function-Error", res.FunctionError)
	}
	_, _ = w.Write(res.Payload)
}

// functionName resolves FunctionName and Qualifier to one of the
// service's functions: a name, a partial or a full ARN of this region and
// account, unqualified or $LATEST.
func (s *Service) functionName(ref, qualifier string) (string, error) {
	parts := strings.Split(ref, ":")
	var name, q string
	switch {
	case len(parts) <= 2: // name[:qualifier]
		name = parts[0]
		if len(parts) == 2 {
			q = parts[1]
		}
	case (len(parts) == 3 || len(parts) == 4) && parts[1] == "function" && parts[0] == s.opts.AccountID:
		name = parts[2]
		if len(parts) == 4 {
			q = parts[3]
		}
	case (len(parts) == 7 || len(parts) == 8) && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" &&
		parts[3] == s.opts.Region && parts[4] == s.opts.AccountID:
		name = parts[6]
		if len(parts) == 8 {
			q = parts[7]
		}
	default:
		return "", &InvokeError{Status: http.StatusNotFound, Type: "ResourceNotFoundException", Message: "Function not found: " + ref}
	}
	switch {
	case q == "":
		q = qualifier
	case qualifier != "" && qualifier != q:
		return "", &InvokeError{Status: http.StatusBadRequest, Type: "InvalidParameterValueException",
			Message: "The derived qualifier from the function name does not match the specified qualifier."}
	}
	if q != "" && q != "$LATEST" {
		return "", &InvokeError{Status: http.StatusNotFound, Type: "ResourceNotFoundException", Message: "Function not found: " + s.arn(name) + ":" + q}
	}
	return name, nil
}

// writeInvokeError answers as Lambda's front end does: the exception's
// name in X-Amzn-ErrorType (the SDKs read it), and a JSON body.
func writeInvokeError(w http.ResponseWriter, err error) {
	var e *InvokeError
	if !errors.As(err, &e) {
		e = &InvokeError{Status: http.StatusInternalServerError, Type: "ServiceException", Message: err.Error()}
	}
	kind := "User"
	if e.Status >= 500 {
		kind = "Service"
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Type    string
		Message string `json:"message"`
		Reason  string `json:",omitempty"`
	}{kind, e.Message, e.Reason})
}
