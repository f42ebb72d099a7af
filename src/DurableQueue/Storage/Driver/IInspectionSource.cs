namespace DurableQueue.Storage.Driver;

/// <summary>
/// What a <see cref="StoreInspector"/> reads through: a backend's read-only access to a store that is never created,
/// migrated or written (SQLite: one connection with <c>query_only</c>; PostgreSQL: connections whose transactions are
/// read-only). The backend maps its provider's errors to the library's typed exceptions.
/// </summary>
internal interface IInspectionSource : IDisposable
{
    /// <summary>Gets the backend.</summary>
    StorageKind Kind { get; }

    /// <summary>Runs one read (one snapshot where the reader takes one) and returns its result.</summary>
    T Read<T>(Func<IStoreReader, T> read);
}
