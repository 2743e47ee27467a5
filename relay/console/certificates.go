package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// certificateRoutes registers an app's certificates pages: the list with its add form, a
// certificate's edit form, its check and its deletion.
func (c *Console) certificateRoutes() {
	c.mux.Handle("GET /console/apps/{app}/certificates", c.page(c.withApp(c.certificatesPage)))
	c.mux.Handle("POST /console/apps/{app}/certificates", c.form(c.withApp(c.createCertificate)))
	c.mux.Handle("GET /console/apps/{app}/certificates/{cert}", c.page(c.withCert(c.certificatePage)))
	c.mux.Handle("POST /console/apps/{app}/certificates/{cert}", c.form(c.withCert(c.updateCertificate)))
	c.mux.Handle("POST /console/apps/{app}/certificates/{cert}/check", c.form(c.withCert(c.checkCertificate)))
	c.mux.Handle("GET /console/apps/{app}/certificates/{cert}/delete", c.page(c.withCert(c.certificateDeletePage)))
	c.mux.Handle("POST /console/apps/{app}/certificates/{cert}/delete", c.form(c.withCert(c.deleteCertificate)))
}

// certHandler is a page or form of one certificate, called with its app and ID from the path.
type certHandler func(w http.ResponseWriter, r *http.Request, s *session, app uint64, cert int64)

// withCert reads the {app} and {cert} path values.
func (c *Console) withCert(h certHandler) sessionHandler {
	return c.withApp(func(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
		cert, err := strconv.ParseInt(r.PathValue("cert"), 10, 64)
		if err != nil || cert <= 0 {
			c.render(w, r, s, http.StatusNotFound, "error", "Not found", errorPage{
				Message: fmt.Sprintf("%q is not a certificate ID (a positive number).", r.PathValue("cert")),
				Back:    certsPage(app)})
			return
		}
		h(w, r, s, app, cert)
	})
}

func certsPage(app uint64) string { return fmt.Sprintf("/console/apps/%d/certificates", app) }

// Credential choices of the certificate forms (the field api).
const (
	apiV1     = "v1"
	apiLegacy = "legacy"
	apiKeep   = "keep" // edit only: keep the stored credentials
)

// certForm is a certificate's form as a person filled it in, to draw it again. It holds no
// secret: the service account and the server key are write-only.
type certForm struct {
	ID, PackageName, SenderID, Endpoint, ChannelID, API string
}

func readCertForm(r *http.Request) certForm {
	g := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	return certForm{ID: g("id"), PackageName: g("packageName"), SenderID: g("senderId"), Endpoint: g("endpoint"), ChannelID: g("channelId"), API: g("api")}
}

func certFormOf(v relay.CertificateView) certForm {
	return certForm{ID: strconv.FormatInt(v.ID, 10), PackageName: v.PackageName, SenderID: v.SenderID, Endpoint: v.Endpoint, ChannelID: v.ChannelID, API: apiKeep}
}

// body is the admin API's request for the form, with the credentials of the chosen API (none
// for keep: the relay keeps the stored ones).
func (f certForm) body(r *http.Request) (map[string]any, error) {
	b := map[string]any{"platform": "google", "packageName": f.PackageName, "senderId": f.SenderID, "endpoint": f.Endpoint, "channelId": f.ChannelID}
	switch f.API {
	case apiV1:
		b["serviceAccount"] = strings.TrimSpace(r.PostForm.Get("serviceAccount"))
	case apiLegacy:
		b["serverKey"] = strings.TrimSpace(r.PostForm.Get("serverKey"))
	case apiKeep:
	default:
		return nil, fmt.Errorf("api %q: choose v1 (a service account) or legacy (a server key)", f.API)
	}
	return b, nil
}

// certsList is what the certificates page shows.
type certsList struct {
	App   relay.AppView
	Certs []relay.CertificateView
	Form  certForm
	Error string
	// Created is the ID of the certificate just created, shown large.
	Created int64
}

func (c *Console) certificatesPage(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	created, _ := strconv.ParseInt(r.URL.Query().Get("created"), 10, 64)
	c.drawCerts(w, r, s, app, http.StatusOK, certForm{API: apiV1}, "", created)
}

func (c *Console) drawCerts(w http.ResponseWriter, r *http.Request, s *session, app uint64, status int, f certForm, problem string, created int64) {
	v, err := c.getApp(r, app)
	if err != nil {
		c.apiFailure(w, r, s, "/console/apps", err)
		return
	}
	var ans struct {
		Certificates []relay.CertificateView `json:"certificates"`
	}
	if err := c.cfg.API.Do(r.Context(), http.MethodGet, client.CertificatesPath(app), nil, &ans); err != nil {
		c.apiFailure(w, r, s, "/console/apps", err)
		return
	}
	c.render(w, r, s, status, "certificates", fmt.Sprintf("Certificates of app %d", app),
		certsList{App: v, Certs: ans.Certificates, Form: f, Error: problem, Created: created})
}

func (c *Console) createCertificate(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	f := readCertForm(r)
	fail := func(status int, msg string) { c.drawCerts(w, r, s, app, status, f, msg, 0) }
	if f.API == apiKeep {
		f.API = ""
	}
	body, err := f.body(r)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	if f.ID != "" {
		id, err := strconv.ParseInt(f.ID, 10, 64)
		if err != nil || id <= 0 {
			fail(http.StatusBadRequest, fmt.Sprintf("Certificate ID %q: expected a positive number, or leave it empty and the relay picks one.", f.ID))
			return
		}
		body["id"] = id
	}
	var v relay.CertificateView
	if err := c.cfg.API.Do(r.Context(), http.MethodPost, client.CertificatesPath(app), body, &v); err != nil {
		fail(apiStatus(err))
		return
	}
	c.cfg.Logger.Info("console: certificate created", "sdkAppId", app, "certificateId", v.ID)
	c.redirect(w, r, s, fmt.Sprintf("%s?created=%d", certsPage(app), v.ID),
		fmt.Sprintf("Certificate %d created (check: %s).", v.ID, v.Check.Status))
}

// certPageData is what a certificate's edit page shows.
type certPageData struct {
	App   uint64
	Cert  relay.CertificateView
	Form  certForm
	Error string
}

func (c *Console) getCert(r *http.Request, app uint64, cert int64) (relay.CertificateView, error) {
	var v relay.CertificateView
	err := c.cfg.API.Do(r.Context(), http.MethodGet, client.CertificatePath(app, cert), nil, &v)
	return v, err
}

func (c *Console) certificatePage(w http.ResponseWriter, r *http.Request, s *session, app uint64, cert int64) {
	v, err := c.getCert(r, app, cert)
	if err != nil {
		c.apiFailure(w, r, s, certsPage(app), err)
		return
	}
	c.render(w, r, s, http.StatusOK, "certificate", fmt.Sprintf("Certificate %d", cert), certPageData{App: app, Cert: v, Form: certFormOf(v)})
}

func (c *Console) updateCertificate(w http.ResponseWriter, r *http.Request, s *session, app uint64, cert int64) {
	f := readCertForm(r)
	fail := func(status int, msg string) {
		v, err := c.getCert(r, app, cert)
		if err != nil {
			c.apiFailure(w, r, s, certsPage(app), err)
			return
		}
		f.ID = strconv.FormatInt(cert, 10)
		c.render(w, r, s, status, "certificate", fmt.Sprintf("Certificate %d", cert), certPageData{App: app, Cert: v, Form: f, Error: msg})
	}
	body, err := f.body(r)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	var v relay.CertificateView
	if err := c.cfg.API.Do(r.Context(), http.MethodPut, client.CertificatePath(app, cert), body, &v); err != nil {
		fail(apiStatus(err))
		return
	}
	c.cfg.Logger.Info("console: certificate updated", "sdkAppId", app, "certificateId", cert)
	c.redirect(w, r, s, certsPage(app), fmt.Sprintf("Certificate %d saved (check: %s).", cert, v.Check.Status))
}

func (c *Console) checkCertificate(w http.ResponseWriter, r *http.Request, s *session, app uint64, cert int64) {
	var v relay.CertificateView
	if err := c.cfg.API.Do(r.Context(), http.MethodPost, client.CertificateCheckPath(app, cert), nil, &v); err != nil {
		c.apiFailure(w, r, s, certsPage(app), err)
		return
	}
	msg := fmt.Sprintf("Certificate %d checked: %s.", cert, v.Check.Status)
	if v.Check.Error != "" {
		msg = fmt.Sprintf("Certificate %d checked: %s: %s", cert, v.Check.Status, v.Check.Error)
	}
	c.redirect(w, r, s, certsPage(app), msg)
}

func (c *Console) certificateDeletePage(w http.ResponseWriter, r *http.Request, s *session, app uint64, cert int64) {
	v, err := c.getCert(r, app, cert)
	if err != nil {
		c.apiFailure(w, r, s, certsPage(app), err)
		return
	}
	c.render(w, r, s, http.StatusOK, "delete", fmt.Sprintf("Delete certificate %d?", cert), deletePage{
		What:   fmt.Sprintf("certificate %d (%s) of app %d", v.ID, v.PackageName, app),
		Detail: "Devices bound to it lose their binding: they get no pushes until the app reports a token again with another certificate ID.",
		Action: fmt.Sprintf("%s/%d/delete", certsPage(app), cert), Back: certsPage(app)})
}

func (c *Console) deleteCertificate(w http.ResponseWriter, r *http.Request, s *session, app uint64, cert int64) {
	if err := c.cfg.API.Do(r.Context(), http.MethodDelete, client.CertificatePath(app, cert), nil, nil); err != nil {
		c.apiFailure(w, r, s, certsPage(app), err)
		return
	}
	c.cfg.Logger.Info("console: certificate deleted", "sdkAppId", app, "certificateId", cert)
	c.redirect(w, r, s, certsPage(app), fmt.Sprintf("Certificate %d deleted.", cert))
}
