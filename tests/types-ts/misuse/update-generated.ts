// Must NOT compile: `orders.amount` is a generated column.
import type { TablesUpdate } from "../database.types"

export const patch: TablesUpdate<"orders"> = { amount: 3 }
