// Must NOT compile: there is no table `invoices`.
import type { Tables } from "../database.types"

export type Invoice = Tables<"invoices">
