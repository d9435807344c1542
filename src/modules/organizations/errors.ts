/** Failures of roles, permissions and organizations (graphql/errors.ts registers them). */
import { PortcullisError } from '../../kernel/errors.js';

/** A role is still held: deleting it would silently take it from its holders. */
export class RoleInUseError extends PortcullisError {
  static readonly code = 'ROLE_IN_USE';
  readonly code = RoleInUseError.code;
  constructor(
    readonly users: number,
    readonly members: number,
  ) {
    super(`The role is held by ${users} user(s) and ${members} organization member(s): remove it from them first.`);
  }
}

/** A permission is still in a role: deleting it would silently change what the role grants. */
export class PermissionInUseError extends PortcullisError {
  static readonly code = 'PERMISSION_IN_USE';
  readonly code = PermissionInUseError.code;
  constructor(readonly roles: number) {
    super(`The permission is in ${roles} role(s): take it out of them first (setRolePermissions).`);
  }
}

/** A role of the other scope: GLOBAL roles go to users, ORGANIZATION roles to members. */
export class RoleScopeMismatchError extends PortcullisError {
  static readonly code = 'ROLE_SCOPE_MISMATCH';
  readonly code = RoleScopeMismatchError.code;
  constructor(
    readonly roleId: string,
    readonly expected: 'GLOBAL' | 'ORGANIZATION',
  ) {
    super(`The role ${roleId} is not a ${expected} role.`);
  }
}
