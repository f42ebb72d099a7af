using System.Globalization;

namespace DurableQueue;

/// <summary>Every message text the library uses, in one place (invariant culture, no trailing newline).</summary>
internal static partial class ErrorMessages
{
    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public static string LeaseLost(string queue, MessageId id) =>
        F($"The lease on message {id} in queue '{queue}' was lost: it expired and the message was received again, or the message was settled already. Nothing was changed.");

    public static string BadMessageId(string text) => F($"'{text}' is not a message id; an id is a positive decimal number.");

    public static string BadReceipt(string text) => F($"'{text}' is not a message receipt; use the text of MessageReceipt.ToString().");

    public static string DefaultReceipt => "The receipt is the default value; use the receipt of a received message.";

    public static string UnknownDurability(Durability value) => F($"{value} is not a Durability value.");

    public static string BadQueueName(string name) =>
        F($"'{name}' is not a valid queue name: use 1 to 128 characters from letters, digits, '.', '_', '-' and ':', starting with a letter or digit.");

    public static string PriorityOutOfRange(int value) =>
        F($"The priority must be between 0 and 9 (0 is the most urgent); it was {value}.");

    public static string MaxAttemptsOutOfRange(int value) =>
        F($"The maximum number of attempts must be between 1 and 1000000; it was {value}.");

    public static string NegativeDelay(TimeSpan value) => F($"The delay must not be negative; it was {value}.");

    public static string TimeoutOutOfRange(TimeSpan value) =>
        F($"The timeout must be greater than zero and at most 7 days; it was {value}.");

    public static string WaitOutOfRange(TimeSpan value) =>
        F($"The wait time must not be negative and at most 1 hour; it was {value}.");

    public static string MaxMessagesOutOfRange(int value) =>
        F($"The number of messages must be between 1 and 1000; it was {value}.");

    public static string BodyTooLarge(int size, int max) =>
        F($"The message body is {size} bytes, larger than the store's MaxMessageBytes of {max} bytes.");

    public static string DedupKeyTooLong(int length) =>
        F($"The deduplication key is {length} characters long; the limit is 512.");

    public static string EmptyDedupKey => "The deduplication key must not be empty; use null for no deduplication.";

    public static string EmptyBatch => "The batch must contain at least one message.";

    public static string ReasonRequired => "A dead-letter reason must be given (a non-empty string).";

    public static string QueueOptionsConflict(string name) =>
        F($"Queue '{name}' was already opened in this store with different options; open it once with its options, or omit them on later calls.");

    public static string TransactionCompletedByCaller =>
        "The unit of work committed or rolled back the store's transaction itself; throw an exception to roll back instead.";

    public static string TransactionNotActive =>
        "This QueueTransaction has completed; it is no longer usable. Use it only inside the unit-of-work callback.";

    public static string Busy(TimeSpan waited) =>
        F($"The database file stayed locked by another writer for {waited.TotalSeconds:0.###} s (BusyTimeout); nothing was changed. Retry later, or raise QueueStoreOptions.BusyTimeout.");

    public static string Full(string path) =>
        F($"The write did not fit in '{path}': the disk is full or the database reached its size limit. It was rolled back; nothing committed was lost.");

    public static string NotADatabase(string path) => F($"'{path}' is not a SQLite database; the file was left untouched.");

    public static string Corrupt(string path, string detail) =>
        F($"'{path}' is a damaged SQLite database ({detail}); the file was left untouched. Restore it from a backup.");

    public static string NewerSchema(string path, long found, long supported) =>
        F($"'{path}' has queue schema version {found}, but this version of DurableQueue supports up to {supported}; the file was left untouched. Upgrade DurableQueue to open it.");

    public static string CannotOpen(string path, string detail) => F($"'{path}' could not be opened as a queue store: {detail}");

    public static string ReadOnly(string path) =>
        F($"'{path}' can only be read, but a queue store writes to its file. Check the file's permissions and those of its folder.");

    public static string WalUnavailable(string path, string mode) =>
        F($"WAL mode could not be turned on for '{path}' (the journal mode stayed '{mode}'). Keep queue files on a local file system.");

    public static string DirectoryMissing(string directory) =>
        F($"The folder '{directory}' does not exist; create it before opening a store in it.");

    public static string PathIsDirectory(string path) => F($"'{path}' is a folder; give the path of a database file.");

    public static string DoctorNeedsFile(string location) =>
        F($"The durability doctor checks SQLite files; the store at '{location}' is on another backend.");
}
