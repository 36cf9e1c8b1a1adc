/** Who may do what: each role includes the ones before it. */
export const ROLES = ['reader', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The access a route asks for: `public` needs no token at all. */
export type Access = Role | 'public';

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Does a caller holding `held` satisfy a route that needs `needed`? */
export function roleSatisfies(held: Role, needed: Access): boolean {
  if (needed === 'public') return true;
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}
