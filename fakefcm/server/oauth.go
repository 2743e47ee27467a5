package server

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushlab/pushlab/fakefcm/control"
)

// jwtBearerGrant is the grant type service accounts use (RFC 7523).
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// maxAssertionLifetime is the longest a service-account assertion may live, as Google enforces.
const maxAssertionLifetime = time.Hour

// authority issues service accounts and OAuth2 access tokens, and checks them, as Google's
// token endpoint does for the JWT-bearer grant.
type authority struct {
	tokenURI string
	lifetime time.Duration
	clock    func() time.Time

	mu       sync.Mutex
	accounts map[string]*account // by private_key_id
	byEmail  map[string]*account
	tokens   map[string]accessToken
}

type account struct {
	projectID string
	keyID     string
	email     string
	public    *rsa.PublicKey
}

type accessToken struct {
	projectID string
	expires   time.Time
}

func newAuthority(tokenURI string, lifetime time.Duration, clock func() time.Time) *authority {
	return &authority{
		tokenURI: tokenURI, lifetime: lifetime, clock: clock,
		accounts: map[string]*account{}, byEmail: map[string]*account{}, tokens: map[string]accessToken{},
	}
}

// issue creates a service account for a project and returns its JSON, private key included.
func (a *authority) issue(projectID string) (json.RawMessage, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", fmt.Errorf("generate service-account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("encode service-account key: %w", err)
	}
	acct := &account{
		projectID: projectID,
		keyID:     randomHex(20),
		email:     "firebase-adminsdk-fake@" + projectID + ".iam.gserviceaccount.com",
		public:    &key.PublicKey,
	}
	sa := control.ServiceAccount{
		Type:                    "service_account",
		ProjectID:               projectID,
		PrivateKeyID:            acct.keyID,
		PrivateKey:              string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		ClientEmail:             acct.email,
		ClientID:                randomDigits(21),
		AuthURI:                 "https://accounts.google.com/o/oauth2/auth",
		TokenURI:                a.tokenURI,
		AuthProviderX509CertURL: "https://www.googleapis.com/oauth2/v1/certs",
		ClientX509CertURL:       "https://www.googleapis.com/robot/v1/metadata/x509/" + acct.email,
	}
	b, err := json.MarshalIndent(sa, "", "  ")
	if err != nil {
		return nil, "", err
	}
	a.mu.Lock()
	a.accounts[acct.keyID] = acct
	a.byEmail[acct.email] = acct
	a.mu.Unlock()
	return b, acct.email, nil
}

// oauthError is the body of a refused token request.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// handleToken serves POST /token: the JWT-bearer grant for the service accounts it issued.
func (a *authority) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Could not read the form body: " + err.Error()})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != jwtBearerGrant {
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", fmt.Sprintf("Invalid grant_type: %q; fakefcm supports %s.", gt, jwtBearerGrant)})
		return
	}
	assertion := r.PostForm.Get("assertion")
	if assertion == "" {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Missing required parameter: assertion"})
		return
	}
	acct, status, oerr := a.verify(assertion)
	if oerr != nil {
		writeJSON(w, status, oerr)
		return
	}
	token := "ya29.fake-" + randomHex(32)
	now := a.clock()
	a.mu.Lock()
	for t, at := range a.tokens {
		if !now.Before(at.expires) {
			delete(a.tokens, t)
		}
	}
	a.tokens[token] = accessToken{projectID: acct.projectID, expires: now.Add(a.lifetime)}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"expires_in":   int(a.lifetime/time.Second) - 1,
		"token_type":   "Bearer",
	})
}

// verify checks a service-account assertion: RS256 signed by the key named in its kid (or its
// issuer's key), issued by that account, addressed to this token endpoint, short-lived and current.
func (a *authority) verify(assertion string) (*account, int, *oauthError) {
	var acct *account
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if kid, _ := t.Header["kid"].(string); kid != "" {
			acct = a.accounts[kid]
		} else if iss, _ := claims["iss"].(string); iss != "" {
			acct = a.byEmail[iss]
		}
		if acct == nil {
			return nil, errUnknownAccount
		}
		return acct.public, nil
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(a.clock),
		jwt.WithLeeway(5*time.Minute),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	switch {
	case errors.Is(err, errUnknownAccount):
		return nil, http.StatusUnauthorized, &oauthError{"invalid_client", "The OAuth client was not found: fakefcm issued no service account with this key."}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, http.StatusBadRequest, &oauthError{"invalid_grant", "Invalid JWT Signature."}
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, http.StatusBadRequest, &oauthError{"invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."}
	case err != nil:
		return nil, http.StatusBadRequest, &oauthError{"invalid_grant", "Invalid JWT: " + err.Error()}
	}
	if iss, _ := claims["iss"].(string); iss != acct.email {
		return nil, http.StatusBadRequest, &oauthError{"invalid_grant", fmt.Sprintf("Invalid JWT: iss %q is not the service account's client_email.", iss)}
	}
	if aud, _ := claims["aud"].(string); aud != a.tokenURI {
		return nil, http.StatusBadRequest, &oauthError{"invalid_grant", fmt.Sprintf("Invalid JWT: aud %q is not the token endpoint %s.", aud, a.tokenURI)}
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp.Sub(iat.Time) > maxAssertionLifetime {
		return nil, http.StatusBadRequest, &oauthError{"invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."}
	}
	return acct, 0, nil
}

var errUnknownAccount = errors.New("unknown service account")

// email returns the client_email of a project's service account.
func (a *authority) email(projectID string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, acct := range a.accounts {
		if acct.projectID == projectID {
			return acct.email
		}
	}
	return ""
}

// authError is why a bearer token was refused.
type authError struct {
	status    int
	rpcStatus string
	msg       string
}

// checkBearer resolves an Authorization header to the project its access token belongs to.
func (a *authority) checkBearer(header string) (string, *authError) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return "", &authError{http.StatusUnauthorized, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
	}
	a.mu.Lock()
	at, ok := a.tokens[token]
	a.mu.Unlock()
	if !ok || !a.clock().Before(at.expires) {
		return "", &authError{http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
	}
	return at.projectID, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
