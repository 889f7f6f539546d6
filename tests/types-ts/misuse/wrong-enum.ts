// Must NOT compile: "angry" is not a value of the enum `mood`.
import type { Enums } from "../database.types"

export const m: Enums<"mood"> = "angry"
