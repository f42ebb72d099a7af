using System.Text.Json;
using System.Text.Json.Serialization;

namespace DurableQueue.Dashboard.Internal;

// The JSON shapes of the dashboard's API. Strings from the store (names, headers, errors, bodies) travel as JSON
// strings only; the page puts them into the document as text, never as markup.

internal sealed record SessionDto(
    string Title, bool WriteActions, bool ShowBodies, int RefreshMs, int SampleMs, int HistorySeconds, int PageSize, bool JobsAvailable,
    string? AntiforgeryHeader, string? AntiforgeryToken);

internal sealed record OverviewDto(DateTimeOffset TakenAt, StoreSummaryDto Store, List<QueueRowDto> Queues, List<HistoryPoint> History);

// Backend: "sqlite" or "postgresql" (StoreBackend), what the page may show and offer.
internal sealed record StoreSummaryDto(string Backend, string Path, long FileBytes, long WalBytes, long FreeBytes, long SchemaVersion, long LastMessageId);

internal sealed record QueueRowDto(
    string Name, long Ready, long Delayed, long Leased, long DeadLettered, double? OldestReadyAgeSeconds,
    double? EnqueuedPerSecond, double? SettledPerSecond, CapacityDto? Capacity);

internal sealed record CapacityDto(long? MaxMessages, long? MaxBytes, long Messages, long Bytes, string FullMode, double Used);

internal sealed record MessagePageDto(string Order, List<MessageDto> Items, long? Next);

internal sealed record MessageDto(
    long Id, string State, int Priority, int Attempts, int MaxAttempts, DateTimeOffset EnqueuedAt, DateTimeOffset VisibleAt,
    string? LastError, string? DeduplicationKey, int BodyBytes, IReadOnlyDictionary<string, string>? Headers, BodyDto? Body);

internal sealed record DeadLetterPageDto(List<DeadLetterDto> Items, long? Next);

internal sealed record DeadLetterDto(
    long Id, int Priority, int Attempts, int MaxAttempts, DateTimeOffset EnqueuedAt, DateTimeOffset DeadLetteredAt, string Reason,
    string? LastError, int BodyBytes, IReadOnlyDictionary<string, string>? Headers, BodyDto? Body);

internal sealed record BodyDto(string? Text, string Hex, bool Truncated);

internal sealed record JobPageDto(bool Available, List<JobDto> Items, long? Next, List<ScheduleDto> Schedules);

internal sealed record JobDto(
    long Id, string Queue, string State, bool IsFinal, bool Cancellable, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset? RunAt,
    DateTimeOffset? StartedAt, DateTimeOffset? NextAttemptAt, DateTimeOffset? CompletedAt, string? LastError, bool HasResult, string? Result);

internal sealed record ScheduleDto(string Name, string Cron, string Queue, DateTimeOffset? Next, DateTimeOffset? Last);

internal sealed record StoreDto(
    string Backend,
    string Path, DateTimeOffset TakenAt, long SchemaVersion, long FileBytes, long WalBytes, long PageSize, long PageCount, long FreePages,
    long FreeBytes, string JournalMode, bool IncrementalVacuum, long LastMessageId, int Queues);

internal sealed record VerifyDto(bool Healthy, List<string> IntegrityErrors, List<ProblemDto> Problems, List<string> Checks, double Seconds);

internal sealed record ProblemDto(string Check, long Count, string Description);

internal sealed record CompactDto(
    long FileBytesBefore, long WalBytesBefore, long FreePagesBefore, long FileBytesAfter, long WalBytesAfter, long FreePagesAfter,
    long BytesReturned, bool CheckpointCompleted, bool IncrementalVacuum);

internal sealed record RequeueRequest(List<long>? Ids, bool All);

internal sealed record PurgeRequest(string? Confirm);

internal sealed record CountDto(long Count);

// Link: "Unknown", "Up" or "Down"; Pacing: a send waits now for the pace of the queue's arrivals. Errors travel as JSON strings and become text on the page.
internal sealed record ForwarderDto(
    string Name, string Queue, string Link, DateTimeOffset LinkSince, string? LastError, DateTimeOffset? LastErrorAt, long Forwarded,
    DateTimeOffset? LastForwardedAt, double ForwardedPerSecond, double LagSeconds, int InFlight, bool Pacing);

internal sealed record ForwardersDto(List<ForwarderDto> Items);

internal sealed record ErrorDto(string Error);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SessionDto))]
[JsonSerializable(typeof(OverviewDto))]
[JsonSerializable(typeof(MessagePageDto))]
[JsonSerializable(typeof(MessageDto))]
[JsonSerializable(typeof(DeadLetterPageDto))]
[JsonSerializable(typeof(DeadLetterDto))]
[JsonSerializable(typeof(JobPageDto))]
[JsonSerializable(typeof(JobDto))]
[JsonSerializable(typeof(StoreDto))]
[JsonSerializable(typeof(VerifyDto))]
[JsonSerializable(typeof(CompactDto))]
[JsonSerializable(typeof(RequeueRequest))]
[JsonSerializable(typeof(PurgeRequest))]
[JsonSerializable(typeof(CountDto))]
[JsonSerializable(typeof(ForwardersDto))]
[JsonSerializable(typeof(ErrorDto))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class DashboardJson : JsonSerializerContext;
