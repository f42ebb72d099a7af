namespace DurableQueue;

/// <summary>
/// One broken invariant found by a verification.
/// </summary>
/// <param name="Check">The short, stable name of the check, such as <c>attempts-over-limit</c>.</param>
/// <param name="Count">How many rows (or, for file-wide checks, 1) break the rule.</param>
/// <param name="Description">What the rule found, in one sentence.</param>
public readonly record struct VerificationProblem(string Check, long Count, string Description);
