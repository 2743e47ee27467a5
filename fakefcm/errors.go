package fakefcm

import (
	"encoding/json"
	"fmt"
	"time"
)

// ErrorCode is an FCM HTTP v1 error code, the errorCode of the FcmError detail in an error body.
type ErrorCode string

// The FCM HTTP v1 error codes (FCM.md, "Errors (HTTP v1)").
const (
	InvalidArgument     ErrorCode = "INVALID_ARGUMENT"
	Unregistered        ErrorCode = "UNREGISTERED"
	SenderIDMismatch    ErrorCode = "SENDER_ID_MISMATCH"
	QuotaExceeded       ErrorCode = "QUOTA_EXCEEDED"
	Unavailable         ErrorCode = "UNAVAILABLE"
	Internal            ErrorCode = "INTERNAL"
	ThirdPartyAuthError ErrorCode = "THIRD_PARTY_AUTH_ERROR"
)

// The HTTP statuses FCM answers refused sends with, as plain numbers so that the core does without
// net/http; the shell writes them as they are.
const (
	statusBadRequest          = 400
	statusUnauthorized        = 401
	statusForbidden           = 403
	statusNotFound            = 404
	statusTooManyRequests     = 429
	statusInternalServerError = 500
	statusServiceUnavailable  = 503
)

// codeInfo is what each error code looks like on the wire.
type codeInfo struct {
	status     int    // HTTP status
	rpcStatus  string // google.rpc.Code name
	legacy     string // legacy /fcm/send result error
	defaultMsg string // message Google sends when nothing more specific applies
}

var codes = map[ErrorCode]codeInfo{
	InvalidArgument:     {statusBadRequest, "INVALID_ARGUMENT", "InvalidRegistration", "Request contains an invalid argument."},
	Unregistered:        {statusNotFound, "NOT_FOUND", "NotRegistered", "Requested entity was not found."},
	SenderIDMismatch:    {statusForbidden, "PERMISSION_DENIED", "MismatchSenderId", "SenderId mismatch"},
	QuotaExceeded:       {statusTooManyRequests, "RESOURCE_EXHAUSTED", "DeviceMessageRateExceeded", "Quota exceeded for sending messages."},
	Unavailable:         {statusServiceUnavailable, "UNAVAILABLE", "Unavailable", "The service is currently unavailable."},
	Internal:            {statusInternalServerError, "INTERNAL", "InternalServerError", "Internal error encountered."},
	ThirdPartyAuthError: {statusUnauthorized, "UNAUTHENTICATED", "InvalidApnsCredential", "Auth error from APNS or Web Push Service."},
}

// CodeForStatus returns the FCM error code that FCM answers with the given HTTP status, as fault
// rules use it. It reports false for a status FCM does not use for send errors.
func CodeForStatus(status int) (ErrorCode, bool) {
	switch status {
	case statusBadRequest:
		return InvalidArgument, true
	case statusUnauthorized:
		return ThirdPartyAuthError, true
	case statusForbidden:
		return SenderIDMismatch, true
	case statusNotFound:
		return Unregistered, true
	case statusTooManyRequests:
		return QuotaExceeded, true
	case statusInternalServerError:
		return Internal, true
	case statusServiceUnavailable:
		return Unavailable, true
	}
	return "", false
}

// Valid reports whether c is one of FCM's error codes.
func (c ErrorCode) Valid() bool {
	_, ok := codes[c]
	return ok
}

// HTTPStatus is the status FCM answers c with.
func (c ErrorCode) HTTPStatus() int { return codes[c].status }

// SendError is a refused send: what FCM answers and why.
type SendError struct {
	Code ErrorCode
	// Message is the human-readable error message of the answer.
	Message string
	// Field names the request field at fault for INVALID_ARGUMENT ("message.token"); empty if none.
	Field string
	// Legacy is the error string the legacy API reports for this refusal (InvalidRegistration,
	// MessageTooBig, …); empty means the code's usual legacy string.
	Legacy string
	// RetryAfter is the Retry-After the answer carries; zero for none.
	RetryAfter time.Duration
}

func (e *SendError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// LegacyError is the error string of this refusal in a legacy /fcm/send result.
func (e *SendError) LegacyError() string {
	if e.Legacy != "" {
		return e.Legacy
	}
	return codes[e.Code].legacy
}

func newError(code ErrorCode, msg string) *SendError {
	if msg == "" {
		msg = codes[code].defaultMsg
	}
	return &SendError{Code: code, Message: msg}
}

func invalidArg(field, legacy, format string, args ...any) *SendError {
	return &SendError{Code: InvalidArgument, Field: field, Legacy: legacy, Message: fmt.Sprintf(format, args...)}
}

// StatusBody is the google.rpc.Status error body Google's APIs answer with.
type StatusBody struct {
	Error StatusError `json:"error"`
}

// StatusError is the "error" member of a StatusBody.
type StatusError struct {
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Status  string         `json:"status"`
	Details []StatusDetail `json:"details,omitempty"`
}

// StatusDetail is one entry of google.rpc.Status details: an FcmError or a BadRequest.
type StatusDetail struct {
	Type            string           `json:"@type"`
	ErrorCode       string           `json:"errorCode,omitempty"`
	FieldViolations []FieldViolation `json:"fieldViolations,omitempty"`
}

// FieldViolation is one google.rpc.BadRequest field violation.
type FieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// Detail type URLs.
const (
	FcmErrorType   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	BadRequestType = "type.googleapis.com/google.rpc.BadRequest"
)

// V1Body renders e as the HTTP v1 error body: google.rpc.Status with the FcmError detail (which the
// Admin SDK's Is… predicates read) and, for an invalid argument, a BadRequest detail naming the field.
func (e *SendError) V1Body() []byte {
	info := codes[e.Code]
	body := StatusBody{Error: StatusError{
		Code:    info.status,
		Message: e.Message,
		Status:  info.rpcStatus,
		Details: []StatusDetail{{Type: FcmErrorType, ErrorCode: string(e.Code)}},
	}}
	if e.Field != "" {
		body.Error.Details = append(body.Error.Details, StatusDetail{
			Type:            BadRequestType,
			FieldViolations: []FieldViolation{{Field: e.Field, Description: e.Message}},
		})
	}
	b, _ := json.Marshal(body) // cannot fail: plain strings and ints
	return b
}

// PlainStatusBody renders a google.rpc.Status body without an FcmError detail, as Google answers
// errors that are not about the message (authentication, unknown project, bad method).
func PlainStatusBody(status int, rpcStatus, msg string) []byte {
	b, _ := json.Marshal(StatusBody{Error: StatusError{Code: status, Message: msg, Status: rpcStatus}})
	return b
}
