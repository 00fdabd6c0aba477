// Package admin serves permission grants, the account search and groups.
// Grants gate data, roles gate functions: every account read is scoped by
// the caller's grants, whatever their role.
package admin
