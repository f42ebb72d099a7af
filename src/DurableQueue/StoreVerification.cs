namespace DurableQueue;

/// <summary>
/// The result of verifying a queue store file: SQLite's integrity check plus the queue's own invariants.
/// </summary>
public sealed class StoreVerification
{
    internal StoreVerification(IReadOnlyList<string> integrityErrors, IReadOnlyList<VerificationProblem> problems, IReadOnlyList<string> checks)
    {
        IntegrityErrors = integrityErrors;
        Problems = problems;
        Checks = checks;
    }

    /// <summary>Gets a value indicating whether the file passed every check.</summary>
    public bool IsHealthy => IntegrityErrors.Count == 0 && Problems.Count == 0;

    /// <summary>Gets the lines reported by SQLite's <c>PRAGMA integrity_check</c> (at most 100); empty when it reported <c>ok</c>.</summary>
    public IReadOnlyList<string> IntegrityErrors { get; }

    /// <summary>Gets the queue invariants that do not hold; empty when all hold.</summary>
    public IReadOnlyList<VerificationProblem> Problems { get; }

    /// <summary>Gets the names of the invariant checks that ran, in order.</summary>
    public IReadOnlyList<string> Checks { get; }
}
