package server

import (
	"context"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/store"
)

// Administration: permission grants, the account search and groups
// (server/admin). Roles come from the overlay; grant scoping lives in the
// service.

// GetAPIV1UtilPermissions lists the caller's own grants.
func (s *Server) GetAPIV1UtilPermissions(ctx context.Context, _ gen.GetAPIV1UtilPermissionsRequestObject) (gen.GetAPIV1UtilPermissionsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	gs, err := s.svc.Admin.MyGrants(ctx, p)
	if err != nil {
		return nil, err
	}
	return gen.GetAPIV1UtilPermissions200JSONResponse{UserID: ptr(admin.UserID(p.Email)), Grants: grantViews(gs)}, nil
}

// GetAPIV1UtilAdminPermissions lists grants by user and/or account (admin).
func (s *Server) GetAPIV1UtilAdminPermissions(ctx context.Context, req gen.GetAPIV1UtilAdminPermissionsRequestObject) (gen.GetAPIV1UtilAdminPermissionsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	var f admin.GrantFilter
	if req.Params.UserID != nil {
		f.UserID = *req.Params.UserID
	}
	if req.Params.AccountCode != nil {
		f.AccountCode = *req.Params.AccountCode
	}
	user, gs, err := s.svc.Admin.Grants(ctx, p, f)
	if err != nil {
		return nil, err
	}
	out := gen.GetAPIV1UtilAdminPermissions200JSONResponse{Grants: grantViews(gs)}
	if user != "" {
		out.UserID = &user
	}
	return out, nil
}

// PostAPIV1UtilAdminPermissions grants (or changes) a level directly.
func (s *Server) PostAPIV1UtilAdminPermissions(ctx context.Context, req gen.PostAPIV1UtilAdminPermissionsRequestObject) (gen.PostAPIV1UtilAdminPermissionsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	g, err := s.svc.Admin.Grant(ctx, p, req.Body.UserID, req.Body.AccountCode, store.GrantLevel(req.Body.Level))
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilAdminPermissions200JSONResponse(grantView(g)), nil
}

// DeleteAPIV1UtilAdminPermissions revokes a grant; 404 when there is none.
func (s *Server) DeleteAPIV1UtilAdminPermissions(ctx context.Context, req gen.DeleteAPIV1UtilAdminPermissionsRequestObject) (gen.DeleteAPIV1UtilAdminPermissionsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	user, err := s.svc.Admin.Revoke(ctx, p, req.Body.UserID, req.Body.AccountCode)
	if err != nil {
		return nil, err
	}
	return gen.DeleteAPIV1UtilAdminPermissions200JSONResponse{Status: ptr("revoked"), UserID: &user, AccountCode: ptr(req.Body.AccountCode)}, nil
}

// GetAPIV1UtilSearch finds the caller's granted accounts by code.
func (s *Server) GetAPIV1UtilSearch(ctx context.Context, req gen.GetAPIV1UtilSearchRequestObject) (gen.GetAPIV1UtilSearchResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	q, limit := "", 0
	if req.Params.Q != nil {
		q = *req.Params.Q
	}
	if req.Params.Limit != nil {
		limit = *req.Params.Limit
	}
	gs, err := s.svc.Admin.Search(ctx, p, q, limit)
	if err != nil {
		return nil, err
	}
	return gen.GetAPIV1UtilSearch200JSONResponse{Query: &q, Accounts: grantViews(gs)}, nil
}

// GetAPIV1UtilGroups lists every group.
func (s *Server) GetAPIV1UtilGroups(ctx context.Context, _ gen.GetAPIV1UtilGroupsRequestObject) (gen.GetAPIV1UtilGroupsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	gs, err := s.svc.Admin.Groups(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]gen.Group, 0, len(gs))
	for _, g := range gs {
		out = append(out, groupView(g))
	}
	return gen.GetAPIV1UtilGroups200JSONResponse{Groups: &out}, nil
}

// PostAPIV1UtilGroups creates a group; 409 when the name is taken.
func (s *Server) PostAPIV1UtilGroups(ctx context.Context, req gen.PostAPIV1UtilGroupsRequestObject) (gen.PostAPIV1UtilGroupsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	desc := ""
	if req.Body.Description != nil {
		desc = *req.Body.Description
	}
	g, err := s.svc.Admin.CreateGroup(ctx, p, req.Body.Name, desc)
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilGroups200JSONResponse(groupView(g)), nil
}

// GetAPIV1UtilGroupsMembers lists a group's members the caller holds a
// grant on; 404 for an unknown group.
func (s *Server) GetAPIV1UtilGroupsMembers(ctx context.Context, req gen.GetAPIV1UtilGroupsMembersRequestObject) (gen.GetAPIV1UtilGroupsMembersResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	g, ms, err := s.svc.Admin.Members(ctx, p, req.Params.GroupID)
	if err != nil {
		return nil, err
	}
	out := make([]gen.GroupMember, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberView(m, g))
	}
	return gen.GetAPIV1UtilGroupsMembers200JSONResponse{GroupID: ptr(g.ID), Members: &out}, nil
}

// DeleteAPIV1UtilGroupsMembers takes an account out of its group; 404 when
// it is in none.
func (s *Server) DeleteAPIV1UtilGroupsMembers(ctx context.Context, req gen.DeleteAPIV1UtilGroupsMembersRequestObject) (gen.DeleteAPIV1UtilGroupsMembersResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	if err := s.svc.Admin.RemoveMember(ctx, p, req.Body.AccountCode); err != nil {
		return nil, err
	}
	return gen.DeleteAPIV1UtilGroupsMembers200JSONResponse{Status: ptr("removed"), AccountCode: ptr(req.Body.AccountCode)}, nil
}

// PostAPIV1UtilGroupsMove puts an account in a group, replacing its
// membership; 404 for an unknown group or account.
func (s *Server) PostAPIV1UtilGroupsMove(ctx context.Context, req gen.PostAPIV1UtilGroupsMoveRequestObject) (gen.PostAPIV1UtilGroupsMoveResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	m, g, err := s.svc.Admin.Move(ctx, p, req.Body.AccountCode, req.Body.GroupID)
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilGroupsMove200JSONResponse(memberView(m, g)), nil
}

func grantView(g store.Grant) gen.Grant {
	return gen.Grant{
		UserID:      ptr(g.UserID),
		AccountCode: ptr(g.AccountCode),
		Level:       ptr(gen.GrantLevel(g.Level)),
		GrantedBy:   ptr(g.GrantedBy),
		CreatedAt:   ptr(g.CreatedAt.UTC()),
		UpdatedAt:   ptr(g.UpdatedAt.UTC()),
	}
}

func grantViews(gs []store.Grant) *[]gen.Grant {
	out := make([]gen.Grant, 0, len(gs))
	for _, g := range gs {
		out = append(out, grantView(g))
	}
	return &out
}

func groupView(g store.Group) gen.Group {
	return gen.Group{
		ID:          ptr(g.ID),
		Name:        ptr(g.Name),
		Description: ptr(g.Description),
		CreatedBy:   ptr(g.CreatedBy),
		CreatedAt:   ptr(g.CreatedAt.UTC()),
		UpdatedAt:   ptr(g.UpdatedAt.UTC()),
	}
}

// memberView maps a membership; g is the member's group (for its name).
func memberView(m store.GroupMember, g store.Group) gen.GroupMember {
	return gen.GroupMember{
		AccountCode: ptr(m.AccountCode),
		GroupID:     ptr(m.GroupID),
		GroupName:   ptr(g.Name),
		MovedBy:     ptr(m.MovedBy),
		UpdatedAt:   ptr(m.UpdatedAt.UTC()),
	}
}
