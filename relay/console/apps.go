package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// appRoutes registers the apps pages: the list with its create form, an app's edit form, and
// its deletion.
func (c *Console) appRoutes() {
	c.mux.Handle("GET /console/apps", c.page(c.appsPage))
	c.mux.Handle("POST /console/apps", c.form(c.createApp))
	c.mux.Handle("GET /console/apps/{app}", c.page(c.withApp(c.appPage)))
	c.mux.Handle("POST /console/apps/{app}", c.form(c.withApp(c.updateApp)))
	c.mux.Handle("GET /console/apps/{app}/delete", c.page(c.withApp(c.appDeletePage)))
	c.mux.Handle("POST /console/apps/{app}/delete", c.form(c.withApp(c.deleteApp)))
}

// appHandler is a page or form of one app, called with its SDKAppID from the path.
type appHandler func(w http.ResponseWriter, r *http.Request, s *session, app uint64)

// withApp reads the {app} path value; anything but a positive number is a page that does not exist.
func (c *Console) withApp(h appHandler) sessionHandler {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		app, err := strconv.ParseUint(r.PathValue("app"), 10, 64)
		if err != nil || app == 0 {
			c.render(w, r, s, http.StatusNotFound, "error", "Not found", errorPage{
				Message: fmt.Sprintf("%q is not an SDKAppID (a positive number).", r.PathValue("app")), Back: "/console/apps"})
			return
		}
		h(w, r, s, app)
	}
}

// appForm is an app's form as a person filled it in (never its secret), to draw it again.
type appForm struct {
	SDKAppID, Name, LoginPolicy       string
	PerMinute, PerHour, Burst, Refill string
}

// appFormOf fills the form with an app as stored.
func appFormOf(v relay.AppView) appForm {
	f := appForm{SDKAppID: strconv.FormatUint(v.SDKAppID, 10), Name: v.Name, LoginPolicy: string(v.LoginPolicy)}
	if v.Caps.PerMinute != 0 {
		f.PerMinute = strconv.Itoa(v.Caps.PerMinute)
	}
	if v.Caps.PerHour != 0 {
		f.PerHour = strconv.Itoa(v.Caps.PerHour)
	}
	if v.Caps.Burst != 0 {
		f.Burst = strconv.Itoa(v.Caps.Burst)
	}
	if v.Caps.Refill != 0 {
		f.Refill = v.Caps.Refill.String()
	}
	return f
}

// readAppForm reads the posted app fields.
func readAppForm(r *http.Request) appForm {
	g := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	return appForm{SDKAppID: g("sdkAppId"), Name: g("name"), LoginPolicy: g("loginPolicy"),
		PerMinute: g("perMinute"), PerHour: g("perHour"), Burst: g("burst"), Refill: g("refill")}
}

// body is the admin API's request for the form; secret, when not empty, is the app's secret key.
// Numbers that are not numbers are refused here, the rest by the API.
func (f appForm) body(secret string) (map[string]any, error) {
	caps := map[string]any{}
	for _, n := range []struct {
		name, text string
	}{{"perMinute", f.PerMinute}, {"perHour", f.PerHour}, {"burst", f.Burst}} {
		if n.text == "" {
			continue
		}
		v, err := strconv.Atoi(n.text)
		if err != nil {
			return nil, fmt.Errorf("%s %q: expected a whole number (empty means the relay's default)", n.name, n.text)
		}
		caps[n.name] = v
	}
	if f.Refill != "" {
		caps["refill"] = f.Refill
	}
	b := map[string]any{"name": f.Name, "loginPolicy": f.LoginPolicy, "caps": caps}
	if secret != "" {
		b["secretKey"] = secret
	}
	return b, nil
}

// appsList is what the apps page shows: the apps, and the create form.
type appsList struct {
	Apps []relay.AppView
	Form appForm
	// Error is why the create form was refused.
	Error string
}

func (c *Console) appsPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.drawApps(w, r, s, http.StatusOK, appForm{}, "")
}

func (c *Console) drawApps(w http.ResponseWriter, r *http.Request, s *session, status int, f appForm, problem string) {
	apps, err := c.listApps(r)
	if err != nil {
		c.apiFailure(w, r, s, "", err)
		return
	}
	c.render(w, r, s, status, "apps", "Apps", appsList{Apps: apps, Form: f, Error: problem})
}

// listApps answers the relay's apps, as the admin API lists them.
func (c *Console) listApps(r *http.Request) ([]relay.AppView, error) {
	var ans struct {
		Apps []relay.AppView `json:"apps"`
	}
	err := c.cfg.API.Do(r.Context(), http.MethodGet, client.AppsPath, nil, &ans)
	return ans.Apps, err
}

func (c *Console) createApp(w http.ResponseWriter, r *http.Request, s *session) {
	f := readAppForm(r)
	id, err := strconv.ParseUint(f.SDKAppID, 10, 64)
	if err != nil || id == 0 {
		c.drawApps(w, r, s, http.StatusBadRequest, f, fmt.Sprintf("SDKAppID %q: expected a positive number such as 1400000001.", f.SDKAppID))
		return
	}
	body, err := f.body(r.PostForm.Get("secretKey"))
	if err != nil {
		c.drawApps(w, r, s, http.StatusBadRequest, f, err.Error())
		return
	}
	body["sdkAppId"] = id
	if _, ok := body["secretKey"]; !ok {
		body["secretKey"] = "" // the API says what a secret must be
	}
	var v relay.AppView
	if err := c.cfg.API.Do(r.Context(), http.MethodPost, client.AppsPath, body, &v); err != nil {
		status, msg := apiStatus(err)
		c.drawApps(w, r, s, status, f, msg)
		return
	}
	c.cfg.Logger.Info("console: app created", "sdkAppId", v.SDKAppID)
	c.redirect(w, r, s, certsPage(v.SDKAppID),
		fmt.Sprintf("App %d created. Add its certificates below.", v.SDKAppID))
}

// appPageData is what an app's page shows.
type appPageData struct {
	App   relay.AppView
	Form  appForm
	Error string
}

func (c *Console) getApp(r *http.Request, app uint64) (relay.AppView, error) {
	var v relay.AppView
	err := c.cfg.API.Do(r.Context(), http.MethodGet, client.AppPath(app), nil, &v)
	return v, err
}

func (c *Console) appPage(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	v, err := c.getApp(r, app)
	if err != nil {
		c.apiFailure(w, r, s, "/console/apps", err)
		return
	}
	c.render(w, r, s, http.StatusOK, "app", fmt.Sprintf("App %d", app), appPageData{App: v, Form: appFormOf(v)})
}

func (c *Console) updateApp(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	f := readAppForm(r)
	redraw := func(status int, msg string) {
		v, err := c.getApp(r, app)
		if err != nil {
			c.apiFailure(w, r, s, "/console/apps", err)
			return
		}
		f.SDKAppID = strconv.FormatUint(app, 10)
		c.render(w, r, s, status, "app", fmt.Sprintf("App %d", app), appPageData{App: v, Form: f, Error: msg})
	}
	body, err := f.body(r.PostForm.Get("secretKey")) // empty: the relay keeps the stored secret
	if err != nil {
		redraw(http.StatusBadRequest, err.Error())
		return
	}
	if err := c.cfg.API.Do(r.Context(), http.MethodPut, client.AppPath(app), body, nil); err != nil {
		redraw(apiStatus(err))
		return
	}
	c.cfg.Logger.Info("console: app updated", "sdkAppId", app)
	c.redirect(w, r, s, fmt.Sprintf("/console/apps/%d", app), fmt.Sprintf("App %d saved.", app))
}

// deletePage is the data of a confirmation page: what goes, and where the form posts.
type deletePage struct {
	What   string
	Detail string
	Action string
	Back   string
}

func (c *Console) appDeletePage(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	v, err := c.getApp(r, app)
	if err != nil {
		c.apiFailure(w, r, s, "/console/apps", err)
		return
	}
	c.render(w, r, s, http.StatusOK, "delete", fmt.Sprintf("Delete app %d?", app), deletePage{
		What:   fmt.Sprintf("app %d (%s)", v.SDKAppID, v.Name),
		Detail: "Its certificates, logins, bindings, messages and groups go with it. Its devices are kicked.",
		Action: fmt.Sprintf("/console/apps/%d/delete", app), Back: fmt.Sprintf("/console/apps/%d", app)})
}

func (c *Console) deleteApp(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	if err := c.cfg.API.Do(r.Context(), http.MethodDelete, client.AppPath(app), nil, nil); err != nil {
		c.apiFailure(w, r, s, "/console/apps", err)
		return
	}
	c.cfg.Logger.Info("console: app deleted", "sdkAppId", app)
	c.redirect(w, r, s, "/console/apps", fmt.Sprintf("App %d deleted.", app))
}
