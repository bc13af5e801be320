package cases

// Phase is where a case stands in the response process.
type Phase string

// The phases, in order. NotIncident is a side branch of Intake: the report
// was looked at and is not a security incident; it leads only to Closed.
const (
	PhaseIntake      Phase = "intake"       // 接收请求
	PhaseConfirmed   Phase = "confirmed"    // 事件确认
	PhaseNotIncident Phase = "not_incident" // 非安全事件
	PhaseContained   Phase = "contained"    // 事件抑制
	PhaseEradicated  Phase = "eradicated"   // 事件处理
	PhaseRecovered   Phase = "recovered"    // 恢复
	PhaseHardened    Phase = "hardened"     // 加固、重新评估
	PhaseReported    Phase = "reported"     // 应急响应报告
	PhaseClosed      Phase = "closed"       // 结案
)

// mainLine is the forward order; NotIncident sits beside Confirmed.
var mainLine = []Phase{
	PhaseIntake, PhaseConfirmed, PhaseContained, PhaseEradicated,
	PhaseRecovered, PhaseHardened, PhaseReported, PhaseClosed,
}

var phaseLabels = map[Phase]Label{
	PhaseIntake:      {"Intake", "接收请求"},
	PhaseConfirmed:   {"Confirmed and graded", "事件确认与定级"},
	PhaseNotIncident: {"Not a security incident", "非安全事件"},
	PhaseContained:   {"Contained", "事件已抑制"},
	PhaseEradicated:  {"Eradicated", "威胁已清除"},
	PhaseRecovered:   {"Recovered", "业务已恢复"},
	PhaseHardened:    {"Hardened and re-assessed", "已加固并重新评估"},
	PhaseReported:    {"Report delivered", "报告已提交"},
	PhaseClosed:      {"Closed", "已结案"},
}

// Phases returns every phase: the main line in order, NotIncident after
// Confirmed.
func Phases() []Phase {
	return []Phase{
		PhaseIntake, PhaseConfirmed, PhaseNotIncident, PhaseContained, PhaseEradicated,
		PhaseRecovered, PhaseHardened, PhaseReported, PhaseClosed,
	}
}

// Valid reports whether p is a known phase.
func (p Phase) Valid() bool { _, ok := phaseLabels[p]; return ok }

// Label returns the phase's name.
func (p Phase) Label() Label {
	if l, ok := phaseLabels[p]; ok {
		return l
	}
	return Label{string(p), string(p)}
}

// Direction says how a phase change moves the case.
type Direction string

// Directions of a phase change.
const (
	Forward Direction = "forward" // one step on, or intake→not_incident, or not_incident→closed
	Back    Direction = "back"    // one step back, with a reason
	Reopen  Direction = "reopen"  // closed → the phase it was closed from, with a reason
)

// next returns the phases one forward step from p.
func next(p Phase) []Phase {
	switch p {
	case PhaseIntake:
		return []Phase{PhaseConfirmed, PhaseNotIncident}
	case PhaseNotIncident:
		return []Phase{PhaseClosed}
	}
	for i, q := range mainLine[:len(mainLine)-1] {
		if q == p {
			return []Phase{mainLine[i+1]}
		}
	}
	return nil
}

// prev returns the phase one step back from p on the main line (Intake for
// NotIncident); closed has no fixed predecessor, see Case.closedFrom.
func prev(p Phase) Phase {
	if p == PhaseNotIncident {
		return PhaseIntake
	}
	for i, q := range mainLine[1:] {
		if q == p {
			return mainLine[i]
		}
	}
	return ""
}

func index(p Phase) int {
	for i, q := range mainLine {
		if q == p {
			return i
		}
	}
	if p == PhaseNotIncident {
		return 1
	}
	return -1
}

// transition decides whether a case in from (closed from closedFrom, when
// from is Closed) may move to to, and which direction that is.
func transition(from, closedFrom, to Phase) (Direction, error) {
	terr := func(reason string) error { return &TransitionError{From: from, To: to, Reason: reason} }
	if !to.Valid() {
		return "", fieldErr("to", "unknown phase %q", to)
	}
	if to == from {
		return "", terr("the case is already there")
	}
	if from == PhaseClosed {
		if to == closedFrom {
			return Reopen, nil
		}
		return "", terr("a closed case can only be reopened, to " + string(closedFrom))
	}
	for _, n := range next(from) {
		if n == to {
			return Forward, nil
		}
	}
	if prev(from) == to {
		return Back, nil
	}
	switch {
	case to == PhaseNotIncident:
		return "", terr("only a case still in intake can be found not to be an incident; go back to intake first")
	case from == PhaseNotIncident:
		return "", terr("a case that is not an incident can only be closed, or go back to intake")
	case index(to) > index(from):
		return "", terr("phases cannot be skipped; the next phase is " + string(next(from)[0]))
	default:
		return "", terr("a case goes back one phase at a time; the previous phase is " + string(prev(from)))
	}
}
