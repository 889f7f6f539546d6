// Must NOT compile: `customers.mood` is nullable.
import type { Tables } from "../database.types"

declare const c: Tables<"customers">
export const m: string = c.mood
