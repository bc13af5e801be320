package cases

import (
	"fmt"
	"strings"
	"time"
)

// Contact is a person on the customer's side.
type Contact struct {
	Name  string `json:"name"`
	Org   string `json:"org,omitempty"`
	Role  string `json:"role,omitempty"` // e.g. "IT manager", "网络管理员"
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// IsZero reports whether no field is set.
func (c Contact) IsZero() bool { return c == Contact{} }

func (c Contact) validate(field string, required bool) error {
	if c.IsZero() && !required {
		return nil
	}
	if err := short(field+".name", c.Name, MaxShort, true); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"org", c.Org}, {"role", c.Role}, {"phone", c.Phone}, {"email", c.Email}} {
		if err := short(field+"."+f.name, f.v, MaxShort, false); err != nil {
			return err
		}
	}
	if c.Phone != "" && !strings.ContainsAny(c.Phone, "0123456789") {
		return fieldErr(field+".phone", "has no digits")
	}
	if c.Email != "" {
		at := strings.LastIndexByte(c.Email, '@')
		if at < 1 || at == len(c.Email)-1 || strings.ContainsAny(c.Email, " \t<>,;") {
			return fieldErr(field+".email", "%q is not an email address", c.Email)
		}
	}
	return nil
}

// Intake is what the customer told us when asking for help (接收请求). An
// intake.updated entry carries the whole intake and replaces the previous
// one; the journal keeps every version.
type Intake struct {
	Reporter Contact   `json:"reporter"`
	Contacts []Contact `json:"contacts"`

	// DiscoveredAt is when the customer first noticed something wrong.
	DiscoveredAt time.Time `json:"discovered_at,omitzero"`
	// ReportedAt is when the request for help was received: the SLA clock
	// starts here (or at the case's creation when it is not set).
	ReportedAt time.Time `json:"reported_at,omitzero"`

	Symptoms      []Symptom `json:"symptoms"`
	SymptomsOther string    `json:"symptoms_other,omitempty"` // free text for SymptomOther

	// AffectedSystems are what the customer says is affected, as they name
	// it: hostnames, IPs, "the ERP", "财务系统".
	AffectedSystems []string `json:"affected_systems"`
	Description     string   `json:"description,omitempty"`
}

// Validate checks bounds, formats and consistency.
func (in *Intake) Validate() error {
	if err := in.Reporter.validate("reporter", false); err != nil {
		return err
	}
	if len(in.Contacts) > MaxContacts {
		return tooMany("contacts", len(in.Contacts), MaxContacts)
	}
	for i, c := range in.Contacts {
		if err := c.validate(fmt.Sprintf("contacts[%d]", i), true); err != nil {
			return err
		}
	}
	if err := checkTime("discovered_at", in.DiscoveredAt, false); err != nil {
		return err
	}
	if err := checkTime("reported_at", in.ReportedAt, false); err != nil {
		return err
	}
	if !in.DiscoveredAt.IsZero() && !in.ReportedAt.IsZero() && in.DiscoveredAt.After(in.ReportedAt) {
		return fieldErr("discovered_at", "is after reported_at: the customer cannot report before discovering")
	}
	if len(in.Symptoms) > len(symptomOrder) {
		return tooMany("symptoms", len(in.Symptoms), len(symptomOrder))
	}
	seen := map[Symptom]bool{}
	for i, s := range in.Symptoms {
		if !s.Valid() {
			return fieldErr(fmt.Sprintf("symptoms[%d]", i), "unknown symptom %q", s)
		}
		if seen[s] {
			return fieldErr(fmt.Sprintf("symptoms[%d]", i), "%q is listed twice", s)
		}
		seen[s] = true
	}
	if err := text("symptoms_other", in.SymptomsOther, MaxReason, seen[SymptomOther]); err != nil {
		return err
	}
	if in.SymptomsOther != "" && !seen[SymptomOther] {
		return fieldErr("symptoms_other", "is set but %q is not among the symptoms", SymptomOther)
	}
	if len(in.AffectedSystems) > MaxAffected {
		return tooMany("affected_systems", len(in.AffectedSystems), MaxAffected)
	}
	for i, s := range in.AffectedSystems {
		if err := short(fmt.Sprintf("affected_systems[%d]", i), s, MaxShort, true); err != nil {
			return err
		}
	}
	return text("description", in.Description, MaxText, false)
}

// normalized returns a copy with times in UTC and nil lists made empty, so
// that the payload and the projection look the same however the request
// was written.
func (in Intake) normalized() Intake {
	in.Contacts = nonNil(in.Contacts)
	in.Symptoms = nonNil(in.Symptoms)
	in.AffectedSystems = nonNil(in.AffectedSystems)
	in.Contacts = append([]Contact{}, in.Contacts...)
	in.Symptoms = append([]Symptom{}, in.Symptoms...)
	in.AffectedSystems = append([]string{}, in.AffectedSystems...)
	if !in.DiscoveredAt.IsZero() {
		in.DiscoveredAt = in.DiscoveredAt.UTC()
	}
	if !in.ReportedAt.IsZero() {
		in.ReportedAt = in.ReportedAt.UTC()
	}
	return in
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
