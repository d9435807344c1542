/** Failures of roles, permissions, organizations, members, invitations and domains (graphql/errors.ts registers them). */
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

/**
 * The change would leave an organization without a member holding the owner
 * permission: removing or stripping its last holder (removeMember,
 * updateMemberRoles, deleteUser), or taking the permission from the only
 * role its holders have it through (setRolePermissions).
 */
export class LastOwnerError extends PortcullisError {
  static readonly code = 'LAST_OWNER';
  readonly code = LastOwnerError.code;
  constructor(
    readonly permission: string,
    readonly organizationId: string,
    message = `This member is the last one holding ${permission} in organization ${organizationId}: give it to another member first.`,
  ) {
    super(message);
  }
}

/** Role ids that name no role, or a GLOBAL one, where ORGANIZATION roles are expected. */
export class OrganizationRoleRequiredError extends PortcullisError {
  static readonly code = 'ORGANIZATION_ROLE_REQUIRED';
  readonly code = OrganizationRoleRequiredError.code;
  constructor(readonly roleIds: string[]) {
    super('Every role must be an existing ORGANIZATION role.');
  }
}

/** No invitation has this token (it never existed, or its organization was deleted). */
export class InvitationNotFoundError extends PortcullisError {
  static readonly code = 'INVITATION_NOT_FOUND';
  readonly code = InvitationNotFoundError.code;
  constructor() {
    super('No invitation has this token.');
  }
}

export class InvitationExpiredError extends PortcullisError {
  static readonly code = 'INVITATION_EXPIRED';
  readonly code = InvitationExpiredError.code;
  constructor() {
    super('The invitation has expired: ask for a new one.');
  }
}

export class InvitationRevokedError extends PortcullisError {
  static readonly code = 'INVITATION_REVOKED';
  readonly code = InvitationRevokedError.code;
  constructor() {
    super('The invitation was revoked.');
  }
}

export class InvitationAlreadyAcceptedError extends PortcullisError {
  static readonly code = 'INVITATION_ALREADY_ACCEPTED';
  readonly code = InvitationAlreadyAcceptedError.code;
  constructor() {
    super('The invitation was already accepted.');
  }
}

/** The signed-in user's email is not the invitee's. The message never names the invitee's address. */
export class InvitationEmailMismatchError extends PortcullisError {
  static readonly code = 'INVITATION_EMAIL_MISMATCH';
  readonly code = InvitationEmailMismatchError.code;
  constructor() {
    super('This invitation is for another email address: sign in with the address it was sent to.');
  }
}
