package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
)

// The changes below run inside store.UpdateBackOffice. The direct
// endpoints call them on their own; an approved workflow request of the
// same type calls the same function, so a grant made either way is the
// same grant with the same audit entry (plus the request id).

// Audit actions and entity types of grants and groups.
const (
	ActionPermissionGranted = "PERMISSION_GRANTED"
	ActionPermissionRevoked = "PERMISSION_REVOKED"
	ActionGroupCreated      = "GROUP_CREATED"
	ActionAccountMoved      = "ACCOUNT_MOVED"
	ActionMemberRemoved     = "MEMBER_REMOVED"
	EntityPermission        = "PERMISSION"
	EntityGroup             = "GROUP"
	EntityAccount           = "ACCOUNT"
)

// Change says who makes a change, when, and under which workflow request
// (0 for a direct call).
type Change struct {
	Actor     string
	At        time.Time
	RequestID int64
}

// Audit builds the entry recording a change; detail is marshalled to the
// entry's JSON object.
func (c Change) Audit(action, entityType, entityID string, detail any) store.AuditEntry {
	d, err := json.Marshal(detail)
	if err != nil || len(d) == 0 || d[0] != '{' {
		d = nil
	}
	return store.AuditEntry{Actor: c.Actor, Action: action, EntityType: entityType, EntityID: entityID,
		RequestID: c.RequestID, Detail: d, CreatedAt: c.At}
}

// GrantPermission sets userID's level on accountCode (one grant per user
// and account: a second grant replaces the level). userID is normalised
// here (UserID), so the direct endpoint and the workflow key grants alike.
// The account must exist; that the user exists is the caller's check
// (identities live elsewhere).
func GrantPermission(tx store.BackOfficeTx, c Change, userID, accountCode string, level store.GrantLevel) (store.Grant, error) {
	userID = UserID(userID)
	if c.Actor != "" && UserID(c.Actor) == userID {
		// Power over accounts always comes from someone else, whichever
		// way the grant comes (direct, or a workflow approval).
		return store.Grant{}, apperr.New(apperr.SelfGrant, fmt.Sprintf("%s may not grant themselves a permission; another maker or admin must", userID))
	}
	if level.Rank() == 0 {
		return store.Grant{}, apperr.New(apperr.InvalidRequest, fmt.Sprintf("level %q is not one of VIEW, TRADE, ADMIN", level))
	}
	if err := accountExists(tx, accountCode); err != nil {
		return store.Grant{}, err
	}
	g, found, err := tx.Grant(userID, accountCode)
	if err != nil {
		return store.Grant{}, err
	}
	prev := ""
	if !found {
		g = store.Grant{UserID: userID, AccountCode: accountCode, CreatedAt: c.At}
	} else {
		prev = string(g.Level)
	}
	g.Level, g.GrantedBy, g.UpdatedAt = level, c.Actor, c.At
	if err := tx.PutGrant(g); err != nil {
		return store.Grant{}, err
	}
	tx.Audit(c.Audit(ActionPermissionGranted, EntityPermission, userID+":"+accountCode, map[string]string{
		"user_id": userID, "account_code": accountCode, "level": string(level), "previous_level": prev,
	}))
	return g, nil
}

// RevokePermission removes userID's grant on accountCode; NotFound when
// there is none. userID is normalised here, as in GrantPermission.
func RevokePermission(tx store.BackOfficeTx, c Change, userID, accountCode string) error {
	userID = UserID(userID)
	g, found, err := tx.Grant(userID, accountCode)
	if err != nil {
		return err
	}
	if !found {
		return apperr.New(apperr.NotFound, fmt.Sprintf("%s holds no grant on account %q", userID, accountCode))
	}
	if err := tx.DeleteGrant(userID, accountCode); err != nil {
		return err
	}
	tx.Audit(c.Audit(ActionPermissionRevoked, EntityPermission, userID+":"+accountCode, map[string]string{
		"user_id": userID, "account_code": accountCode, "level": string(g.Level),
	}))
	return nil
}

// CreateGroup makes a group named name with surrounding blanks trimmed
// (so "Desk" and " Desk " are one name); InvalidRequest when nothing is
// left, Conflict when the name is taken.
func CreateGroup(tx store.BackOfficeTx, c Change, name, description string) (store.Group, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return store.Group{}, apperr.New(apperr.InvalidRequest, "a group name must not be empty")
	}
	if _, found, err := tx.GroupByName(name); err != nil {
		return store.Group{}, err
	} else if found {
		return store.Group{}, apperr.New(apperr.Conflict, fmt.Sprintf("a group named %q already exists", name))
	}
	g, err := tx.NewGroup(store.Group{Name: name, Description: description, CreatedBy: c.Actor, CreatedAt: c.At, UpdatedAt: c.At})
	if err != nil {
		return store.Group{}, err
	}
	tx.Audit(c.Audit(ActionGroupCreated, EntityGroup, strconv.FormatInt(g.ID, 10), map[string]string{
		"name": name, "description": description,
	}))
	return g, nil
}

// MoveAccount puts accountCode in groupID, replacing any membership it had.
// NotFound for an unknown group or account.
func MoveAccount(tx store.BackOfficeTx, c Change, accountCode string, groupID int64) (store.GroupMember, store.Group, error) {
	g, found, err := tx.Group(groupID)
	if err != nil {
		return store.GroupMember{}, store.Group{}, err
	}
	if !found {
		return store.GroupMember{}, store.Group{}, apperr.New(apperr.NotFound, fmt.Sprintf("group %d does not exist", groupID))
	}
	if err := accountExists(tx, accountCode); err != nil {
		return store.GroupMember{}, store.Group{}, err
	}
	prev, had, err := tx.Member(accountCode)
	if err != nil {
		return store.GroupMember{}, store.Group{}, err
	}
	m := store.GroupMember{AccountCode: accountCode, GroupID: groupID, MovedBy: c.Actor, UpdatedAt: c.At}
	if err := tx.PutMember(m); err != nil {
		return store.GroupMember{}, store.Group{}, err
	}
	detail := map[string]any{"account_code": accountCode, "group_id": groupID, "group_name": g.Name}
	if had {
		detail["previous_group_id"] = prev.GroupID
	}
	tx.Audit(c.Audit(ActionAccountMoved, EntityAccount, accountCode, detail))
	return m, g, nil
}

// RemoveMember takes accountCode out of its group; NotFound when the
// account is in no group.
func RemoveMember(tx store.BackOfficeTx, c Change, accountCode string) error {
	m, found, err := tx.Member(accountCode)
	if err != nil {
		return err
	}
	if !found {
		return apperr.New(apperr.NotFound, fmt.Sprintf("account %q is in no group", accountCode))
	}
	if err := tx.DeleteMember(accountCode); err != nil {
		return err
	}
	tx.Audit(c.Audit(ActionMemberRemoved, EntityAccount, accountCode, map[string]any{
		"account_code": accountCode, "group_id": m.GroupID,
	}))
	return nil
}

func accountExists(tx store.BackOfficeTx, code string) error {
	_, found, err := tx.Account(code)
	if err != nil {
		return err
	}
	if !found {
		return apperr.New(apperr.NotFound, fmt.Sprintf("account %q does not exist", code))
	}
	return nil
}

// StoreErr turns the store's answers a back-office call expects into
// apperr errors; anything else (store unavailable, cancelled) goes back
// unchanged.
func StoreErr(err error) error {
	switch {
	case err == nil:
		return nil
	case apperr.CodeOf(err) != "":
		return err
	case errors.Is(err, store.ErrInvalid):
		return apperr.Wrap(apperr.InvalidRequest, "the request was refused as invalid", err)
	case errors.Is(err, store.ErrNotFound):
		return apperr.Wrap(apperr.NotFound, "not found", err)
	case errors.Is(err, store.ErrConflict):
		// NewGroup's answer for a name taken meanwhile.
		return apperr.Wrap(apperr.Conflict, "the record already exists", err)
	}
	return err
}
