package scenarios

import (
	"fmt"
	"slices"
)

// MarshalYAML writes a step in the form UnmarshalYAML reads: a one-key map named for the step,
// so that a program can write scenarios (the property tests write their counterexamples so).
func (s Step) MarshalYAML() (any, error) {
	var v any
	switch {
	case slices.Contains(DeviceSteps, s.Kind):
		v = s.Device
		if s.ReportToken != nil || s.Unread != 0 || s.Count != 0 || s.Reverse {
			v = DeviceStep{Device: s.Device, ReportToken: s.ReportToken, Unread: s.Unread, Count: s.Count, Reverse: s.Reverse}
		}
	case s.Kind == StepSwitchUser:
		v = SwitchUserStep{Device: s.Device, User: s.User}
	case s.Kind == StepKick:
		v = map[string]string{"user": s.User}
	case s.Kind == StepSend || s.Kind == StepSendGroup:
		v = s.Send
	case s.Kind == StepCreateGroup:
		v = s.CreateGroup
	case s.Kind == StepSetReceiveOpt:
		v = s.ReceiveOpt
	case s.Kind == StepPushSettings:
		v = s.PushSettings
	case s.Kind == StepProfile:
		v = s.Profile
	case s.Kind == StepFault:
		v = s.Fault
	case s.Kind == StepNetwork:
		v = s.Network
	case s.Kind == StepRestartRelay:
		v = nil
	case s.Kind == StepRestartNode && s.Node.OwnerOf != "":
		return nil, fmt.Errorf("restartNode {ownerOf: %s} cannot be written: restartNode takes the node", s.Node.OwnerOf)
	case (s.Kind == StepKillNode || s.Kind == StepRestartNode) && s.Node.OwnerOf == "":
		v = s.Node.Node
	case s.Kind == StepKillNode:
		v = s.Node
	case s.Kind == StepPauseNode || s.Kind == StepPartitionNode:
		v = s.Node
	case s.Kind == StepWait:
		v = s.Wait.String()
	case s.Kind == StepExpect:
		v = s.Expect
	default:
		return nil, fmt.Errorf("step %q cannot be written: unknown kind", s.Kind)
	}
	return map[string]any{string(s.Kind): v}, nil
}
