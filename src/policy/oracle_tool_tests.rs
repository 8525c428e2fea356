//! The Oracle investigation tools (`policies/tools/oracle/*.md`), checked without a server.
//!
//! A tool's query is only ever tried on a real database in an integration test, and a wrong
//! column there is an ORA-00904 in the middle of an incident. So every query is read here with
//! the crate's own lexer and held against [`CATALOG`]: the views the tools read, each with the
//! columns Oracle's Database Reference documents for it and the page that says so. A view or a
//! column that is not in the catalog fails the test; adding one means reading its doc page.
//!
//! The checker is deliberately simple (it does not resolve scopes): every `alias.column` must be
//! a documented column of the view the alias names, and every bare word must be a keyword, a
//! built-in function, an alias, or a documented column of one of the query's views.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::tool::{ArgumentKind, Requirement, ToolPolicy};
use super::{DbKind, Problem, markdown};
use crate::domain::IdentifierKind;
use crate::sql::effects::ORACLE_BUILTINS;
use crate::sql::{Dialect, Token, lex, read_only};

/// A documented view and the documented columns the tools may read from it.
struct View {
    name: &'static str,
    /// The view's page in the Oracle Database Reference.
    url: &'static str,
    columns: &'static [&'static str],
}

const REFRN: &str = "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/";

/// The views the Oracle tools read, with their documented columns (lower case). Large views list
/// the documented columns the tools use and their close neighbours, not every column.
const CATALOG: &[View] = &[
    View {
        name: "database_properties",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DATABASE_PROPERTIES.html",
        columns: &["property_name", "property_value", "description"],
    },
    View {
        name: "dba_constraints",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_CONSTRAINTS.html",
        columns: &[
            "owner",
            "constraint_name",
            "constraint_type",
            "table_name",
            "search_condition",
            "search_condition_vc",
            "r_owner",
            "r_constraint_name",
            "delete_rule",
            "status",
            "deferrable",
            "deferred",
            "validated",
            "generated",
            "bad",
            "rely",
            "last_change",
            "index_owner",
            "index_name",
            "invalid",
            "view_related",
            "origin_con_id",
        ],
    },
    View {
        name: "dba_data_files",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_DATA_FILES.html",
        columns: &[
            "file_name",
            "file_id",
            "tablespace_name",
            "bytes",
            "blocks",
            "status",
            "relative_fno",
            "autoextensible",
            "maxbytes",
            "maxblocks",
            "increment_by",
            "user_bytes",
            "user_blocks",
            "online_status",
            "lost_write_protect",
        ],
    },
    View {
        name: "dba_free_space",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_FREE_SPACE.html",
        columns: &["tablespace_name", "file_id", "block_id", "bytes", "blocks", "relative_fno"],
    },
    View {
        name: "dba_hist_snapshot",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_HIST_SNAPSHOT.html",
        columns: &[
            "snap_id",
            "dbid",
            "instance_number",
            "startup_time",
            "begin_interval_time",
            "end_interval_time",
            "flush_elapsed",
            "snap_level",
            "error_count",
            "snap_flag",
            "snap_timezone",
            "con_id",
        ],
    },
    View {
        name: "dba_hist_sqlstat",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_HIST_SQLSTAT.html",
        columns: &[
            "snap_id",
            "dbid",
            "instance_number",
            "sql_id",
            "plan_hash_value",
            "optimizer_cost",
            "optimizer_mode",
            "version_count",
            "module",
            "action",
            "sql_profile",
            "force_matching_signature",
            "parsing_schema_id",
            "parsing_schema_name",
            "parsing_user_id",
            "executions_total",
            "executions_delta",
            "parse_calls_total",
            "parse_calls_delta",
            "disk_reads_total",
            "disk_reads_delta",
            "buffer_gets_total",
            "buffer_gets_delta",
            "rows_processed_total",
            "rows_processed_delta",
            "cpu_time_total",
            "cpu_time_delta",
            "elapsed_time_total",
            "elapsed_time_delta",
            "iowait_total",
            "iowait_delta",
            "clwait_total",
            "clwait_delta",
            "apwait_total",
            "apwait_delta",
            "ccwait_total",
            "ccwait_delta",
            "con_dbid",
            "con_id",
        ],
    },
    View {
        name: "dba_hist_sqltext",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_HIST_SQLTEXT.html",
        columns: &["dbid", "sql_id", "sql_text", "command_type", "con_dbid", "con_id"],
    },
    View {
        name: "dba_hist_sys_time_model",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_HIST_SYS_TIME_MODEL.html",
        columns: &["snap_id", "dbid", "instance_number", "stat_id", "stat_name", "value", "con_dbid", "con_id"],
    },
    View {
        name: "dba_hist_system_event",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_HIST_SYSTEM_EVENT.html",
        columns: &[
            "snap_id",
            "dbid",
            "instance_number",
            "event_id",
            "event_name",
            "wait_class_id",
            "wait_class",
            "total_waits",
            "total_timeouts",
            "time_waited_micro",
            "total_waits_fg",
            "total_timeouts_fg",
            "time_waited_micro_fg",
            "con_dbid",
            "con_id",
        ],
    },
    View {
        name: "dba_ind_columns",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_IND_COLUMNS.html",
        columns: &[
            "index_owner",
            "index_name",
            "table_owner",
            "table_name",
            "column_name",
            "column_position",
            "column_length",
            "char_length",
            "descend",
        ],
    },
    View {
        name: "dba_index_usage",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_INDEX_USAGE.html",
        columns: &[
            "object_id",
            "name",
            "owner",
            "total_access_count",
            "total_exec_count",
            "total_rows_returned",
            "bucket_0_access_count",
            "bucket_1_access_count",
            "bucket_2_10_access_count",
            "bucket_2_10_rows_returned",
            "bucket_11_100_access_count",
            "bucket_11_100_rows_returned",
            "bucket_101_1000_access_count",
            "bucket_101_1000_rows_returned",
            "bucket_1000_plus_access_count",
            "bucket_1000_plus_rows_returned",
            "last_used",
        ],
    },
    View {
        name: "dba_indexes",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_INDEXES.html",
        columns: &[
            "owner",
            "index_name",
            "index_type",
            "table_owner",
            "table_name",
            "table_type",
            "uniqueness",
            "compression",
            "prefix_length",
            "tablespace_name",
            "logging",
            "blevel",
            "leaf_blocks",
            "distinct_keys",
            "avg_leaf_blocks_per_key",
            "avg_data_blocks_per_key",
            "clustering_factor",
            "status",
            "num_rows",
            "sample_size",
            "last_analyzed",
            "degree",
            "partitioned",
            "temporary",
            "generated",
            "funcidx_status",
            "visibility",
        ],
    },
    View {
        name: "dba_objects",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_OBJECTS.html",
        columns: &[
            "owner",
            "object_name",
            "subobject_name",
            "object_id",
            "data_object_id",
            "object_type",
            "created",
            "last_ddl_time",
            "timestamp",
            "status",
            "temporary",
            "generated",
            "secondary",
            "namespace",
            "edition_name",
            "oracle_maintained",
        ],
    },
    View {
        name: "dba_part_tables",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_PART_TABLES.html",
        columns: &[
            "owner",
            "table_name",
            "partitioning_type",
            "subpartitioning_type",
            "partition_count",
            "def_subpartition_count",
            "partitioning_key_count",
            "subpartitioning_key_count",
            "status",
            "def_tablespace_name",
        ],
    },
    View {
        name: "dba_segments",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_SEGMENTS.html",
        columns: &[
            "owner",
            "segment_name",
            "partition_name",
            "segment_type",
            "segment_subtype",
            "tablespace_name",
            "header_file",
            "header_block",
            "bytes",
            "blocks",
            "extents",
            "relative_fno",
        ],
    },
    View {
        name: "dba_tab_columns",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_TAB_COLUMNS.html",
        columns: &[
            "owner",
            "table_name",
            "column_name",
            "data_type",
            "data_length",
            "data_precision",
            "data_scale",
            "nullable",
            "column_id",
            "num_distinct",
            "low_value",
            "high_value",
            "density",
            "num_nulls",
            "num_buckets",
            "last_analyzed",
            "sample_size",
            "avg_col_len",
            "histogram",
        ],
    },
    View {
        name: "dba_tab_modifications",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_TAB_MODIFICATIONS.html",
        columns: &[
            "table_owner",
            "table_name",
            "partition_name",
            "subpartition_name",
            "inserts",
            "updates",
            "deletes",
            "timestamp",
            "truncated",
            "drop_segments",
        ],
    },
    View {
        name: "dba_tab_statistics",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_TAB_STATISTICS.html",
        columns: &[
            "owner",
            "table_name",
            "partition_name",
            "partition_position",
            "subpartition_name",
            "subpartition_position",
            "object_type",
            "num_rows",
            "blocks",
            "empty_blocks",
            "avg_space",
            "chain_cnt",
            "avg_row_len",
            "sample_size",
            "last_analyzed",
            "global_stats",
            "user_stats",
            "stattype_locked",
            "stale_stats",
        ],
    },
    View {
        name: "dba_tables",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_TABLES.html",
        columns: &[
            "owner",
            "table_name",
            "tablespace_name",
            "cluster_name",
            "iot_name",
            "status",
            "pct_free",
            "logging",
            "num_rows",
            "blocks",
            "empty_blocks",
            "avg_space",
            "chain_cnt",
            "avg_row_len",
            "degree",
            "instances",
            "cache",
            "sample_size",
            "last_analyzed",
            "partitioned",
            "iot_type",
            "temporary",
            "nested",
            "row_movement",
            "global_stats",
            "user_stats",
            "monitoring",
            "compression",
            "compress_for",
            "dropped",
            "read_only",
            "segment_created",
        ],
    },
    View {
        name: "dba_tablespace_usage_metrics",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_TABLESPACE_USAGE_METRICS.html",
        columns: &["tablespace_name", "used_space", "tablespace_size", "used_percent"],
    },
    View {
        name: "dba_tablespaces",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_TABLESPACES.html",
        columns: &[
            "tablespace_name",
            "block_size",
            "initial_extent",
            "next_extent",
            "min_extents",
            "max_extents",
            "max_size",
            "pct_increase",
            "min_extlen",
            "status",
            "contents",
            "logging",
            "force_logging",
            "extent_management",
            "allocation_type",
            "plugged_in",
            "segment_space_management",
            "def_tab_compression",
            "retention",
            "bigfile",
            "predicate_evaluation",
            "encrypted",
            "compress_for",
            "shared",
        ],
    },
    View {
        name: "dba_temp_files",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_TEMP_FILES.html",
        columns: &[
            "file_name",
            "file_id",
            "tablespace_name",
            "bytes",
            "blocks",
            "status",
            "relative_fno",
            "autoextensible",
            "maxbytes",
            "maxblocks",
            "increment_by",
            "user_bytes",
            "user_blocks",
            "shared",
            "inst_id",
        ],
    },
    View {
        name: "dba_temp_free_space",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_TEMP_FREE_SPACE.html",
        columns: &["tablespace_name", "tablespace_size", "allocated_space", "free_space", "shared", "inst_id"],
    },
    View {
        name: "dba_undo_extents",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_UNDO_EXTENTS.html",
        columns: &[
            "owner",
            "segment_name",
            "tablespace_name",
            "extent_id",
            "file_id",
            "block_id",
            "bytes",
            "blocks",
            "relative_fno",
            "commit_jtime",
            "commit_wtime",
            "status",
        ],
    },
    View {
        name: "dba_users",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/DBA_USERS.html",
        columns: &[
            "username",
            "user_id",
            "account_status",
            "lock_date",
            "expiry_date",
            "default_tablespace",
            "temporary_tablespace",
            "created",
            "profile",
            "authentication_type",
            "common",
            "last_login",
            "oracle_maintained",
        ],
    },
    View {
        name: "v$active_session_history",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-ACTIVE_SESSION_HISTORY.html",
        columns: &[
            "sample_id",
            "sample_time",
            "is_awr_sample",
            "session_id",
            "session_serial#",
            "session_type",
            "user_id",
            "sql_id",
            "is_sqlid_current",
            "sql_child_number",
            "sql_opcode",
            "sql_opname",
            "force_matching_signature",
            "top_level_sql_id",
            "sql_plan_hash_value",
            "sql_plan_line_id",
            "sql_plan_operation",
            "sql_plan_options",
            "sql_exec_id",
            "sql_exec_start",
            "event",
            "event_id",
            "wait_class",
            "wait_class_id",
            "wait_time",
            "session_state",
            "time_waited",
            "blocking_session_status",
            "blocking_session",
            "blocking_session_serial#",
            "blocking_inst_id",
            "current_obj#",
            "current_file#",
            "current_block#",
            "program",
            "module",
            "action",
            "machine",
            "pga_allocated",
            "temp_space_allocated",
            "con_dbid",
            "con_id",
        ],
    },
    View {
        name: "v$archive_dest",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-ARCHIVE_DEST.html",
        columns: &[
            "dest_id",
            "dest_name",
            "status",
            "binding",
            "name_space",
            "target",
            "archiver",
            "schedule",
            "destination",
            "log_sequence",
            "reopen_secs",
            "delay_mins",
            "fail_date",
            "fail_sequence",
            "failure_count",
            "max_failure",
            "error",
            "transmit_mode",
            "affirm",
            "type",
            "valid_now",
            "valid_type",
            "valid_role",
            "db_unique_name",
            "con_id",
        ],
    },
    View {
        name: "v$archive_gap",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-ARCHIVE_GAP.html",
        columns: &["thread#", "low_sequence#", "high_sequence#", "con_id"],
    },
    View {
        name: "v$archived_log",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-ARCHIVED_LOG.html",
        columns: &[
            "recid",
            "stamp",
            "name",
            "dest_id",
            "thread#",
            "sequence#",
            "first_change#",
            "first_time",
            "next_change#",
            "next_time",
            "blocks",
            "block_size",
            "creator",
            "registrar",
            "standby_dest",
            "archived",
            "applied",
            "deleted",
            "status",
            "completion_time",
            "backup_count",
            "is_recovery_dest_file",
            "compressed",
            "con_id",
        ],
    },
    View {
        name: "v$asm_diskgroup_stat",
        // Its page says its columns are those of V$ASM_DISKGROUP:
        // https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-ASM_DISKGROUP.html
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-ASM_DISKGROUP_STAT.html",
        columns: &[
            "group_number",
            "name",
            "sector_size",
            "block_size",
            "allocation_unit_size",
            "state",
            "type",
            "total_mb",
            "free_mb",
            "hot_used_mb",
            "cold_used_mb",
            "required_mirror_free_mb",
            "usable_file_mb",
            "offline_disks",
            "compatibility",
            "database_compatibility",
            "voting_files",
            "con_id",
        ],
    },
    View {
        name: "v$database",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-DATABASE.html",
        columns: &[
            "dbid",
            "name",
            "created",
            "log_mode",
            "open_mode",
            "protection_mode",
            "protection_level",
            "database_role",
            "switchover_status",
            "dataguard_broker",
            "force_logging",
            "platform_id",
            "platform_name",
            "flashback_on",
            "db_unique_name",
            "primary_db_unique_name",
            "cdb",
            "con_id",
            "con_dbid",
        ],
    },
    View {
        name: "v$dataguard_stats",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-DATAGUARD_STATS.html",
        columns: &[
            "source_dbid",
            "source_db_unique_name",
            "name",
            "value",
            "unit",
            "time_computed",
            "datum_time",
            "con_id",
        ],
    },
    View {
        name: "v$instance",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-INSTANCE.html",
        columns: &[
            "instance_number",
            "instance_name",
            "host_name",
            "version",
            "version_legacy",
            "version_full",
            "startup_time",
            "status",
            "parallel",
            "thread#",
            "archiver",
            "log_switch_wait",
            "logins",
            "shutdown_pending",
            "database_status",
            "instance_role",
            "active_state",
            "blocked",
            "con_id",
            "instance_mode",
            "edition",
            "family",
            "database_type",
        ],
    },
    View {
        name: "v$instance_recovery",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-INSTANCE_RECOVERY.html",
        columns: &[
            "recovery_estimated_ios",
            "actual_redo_blks",
            "target_redo_blks",
            "log_file_size_redo_blks",
            "target_mttr",
            "estimated_mttr",
            "ckpt_block_writes",
            "optimal_logfile_size",
            "con_id",
        ],
    },
    View {
        name: "v$locked_object",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-LOCKED_OBJECT.html",
        columns: &[
            "xidusn",
            "xidslot",
            "xidsqn",
            "object_id",
            "session_id",
            "oracle_username",
            "os_user_name",
            "process",
            "locked_mode",
            "con_id",
        ],
    },
    View {
        name: "v$log",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-LOG.html",
        columns: &[
            "group#",
            "thread#",
            "sequence#",
            "bytes",
            "blocksize",
            "members",
            "archived",
            "status",
            "first_change#",
            "first_time",
            "next_change#",
            "next_time",
            "con_id",
        ],
    },
    View {
        name: "v$log_history",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-LOG_HISTORY.html",
        columns: &[
            "recid",
            "stamp",
            "thread#",
            "sequence#",
            "first_change#",
            "first_time",
            "next_change#",
            "resetlogs_change#",
            "resetlogs_time",
            "con_id",
        ],
    },
    View {
        name: "v$logfile",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-LOGFILE.html",
        columns: &["group#", "status", "type", "member", "is_recovery_dest_file", "con_id"],
    },
    View {
        name: "v$osstat",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-OSSTAT.html",
        columns: &["stat_name", "value", "osstat_id", "comments", "cumulative", "con_id"],
    },
    View {
        name: "v$parameter",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-PARAMETER.html",
        columns: &[
            "num",
            "name",
            "type",
            "value",
            "display_value",
            "default_value",
            "isdefault",
            "isses_modifiable",
            "issys_modifiable",
            "ispdb_modifiable",
            "isinstance_modifiable",
            "ismodified",
            "isadjusted",
            "isdeprecated",
            "isbasic",
            "description",
            "update_comment",
            "hash",
            "con_id",
        ],
    },
    View {
        name: "v$pdbs",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-PDBS.html",
        columns: &[
            "con_id",
            "dbid",
            "con_uid",
            "guid",
            "name",
            "open_mode",
            "restricted",
            "open_time",
            "create_scn",
            "total_size",
            "block_size",
            "recovery_status",
        ],
    },
    View {
        name: "v$process",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-PROCESS.html",
        columns: &[
            "addr",
            "pid",
            "sosid",
            "spid",
            "stid",
            "execution_type",
            "pname",
            "username",
            "serial#",
            "terminal",
            "program",
            "tracefile",
            "background",
            "pga_used_mem",
            "pga_alloc_mem",
            "pga_freeable_mem",
            "pga_max_mem",
            "cpu_used",
            "con_id",
        ],
    },
    View {
        name: "v$recovery_area_usage",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-RECOVERY_AREA_USAGE.html",
        columns: &["file_type", "percent_space_used", "percent_space_reclaimable", "number_of_files", "con_id"],
    },
    View {
        name: "v$recovery_file_dest",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-RECOVERY_FILE_DEST.html",
        columns: &["name", "space_limit", "space_used", "space_reclaimable", "number_of_files", "con_id"],
    },
    View {
        name: "v$resource_limit",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-RESOURCE_LIMIT.html",
        columns: &[
            "resource_name",
            "current_utilization",
            "max_utilization",
            "initial_allocation",
            "limit_value",
            "con_id",
        ],
    },
    View {
        name: "v$restore_point",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-RESTORE_POINT.html",
        columns: &[
            "scn",
            "database_incarnation#",
            "guarantee_flashback_database",
            "storage_size",
            "time",
            "restore_point_time",
            "preserved",
            "name",
            "pdb_restore_point",
            "clean_pdb_restore_point",
            "pdb_incarnation#",
            "con_id",
        ],
    },
    View {
        name: "v$rman_backup_job_details",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-RMAN_BACKUP_JOB_DETAILS.html",
        columns: &[
            "session_key",
            "session_recid",
            "session_stamp",
            "command_id",
            "start_time",
            "end_time",
            "input_bytes",
            "output_bytes",
            "status_weight",
            "optimized_weight",
            "object_type_weight",
            "output_device_type",
            "autobackup_count",
            "backed_by_osb",
            "autobackup_done",
            "status",
            "input_type",
            "optimized",
            "elapsed_seconds",
            "compression_ratio",
            "input_bytes_per_sec",
            "output_bytes_per_sec",
            "input_bytes_display",
            "output_bytes_display",
            "input_bytes_per_sec_display",
            "output_bytes_per_sec_display",
            "time_taken_display",
            "con_id",
        ],
    },
    View {
        name: "v$session",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SESSION.html",
        columns: &[
            "saddr",
            "sid",
            "serial#",
            "audsid",
            "paddr",
            "user#",
            "username",
            "command",
            "taddr",
            "lockwait",
            "status",
            "server",
            "schemaname",
            "osuser",
            "process",
            "machine",
            "port",
            "terminal",
            "program",
            "type",
            "sql_address",
            "sql_hash_value",
            "sql_id",
            "sql_child_number",
            "sql_exec_start",
            "sql_exec_id",
            "prev_sql_id",
            "prev_child_number",
            "prev_exec_start",
            "module",
            "action",
            "client_info",
            "row_wait_obj#",
            "logon_time",
            "last_call_et",
            "resource_consumer_group",
            "client_identifier",
            "blocking_session_status",
            "blocking_instance",
            "blocking_session",
            "final_blocking_session_status",
            "final_blocking_instance",
            "final_blocking_session",
            "seq#",
            "event",
            "wait_class",
            "wait_time",
            "seconds_in_wait",
            "state",
            "wait_time_micro",
            "time_remaining_micro",
            "time_since_last_wait_micro",
            "service_name",
            "con_id",
        ],
    },
    View {
        name: "v$session_event",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SESSION_EVENT.html",
        columns: &[
            "sid",
            "event",
            "total_waits",
            "total_timeouts",
            "time_waited",
            "average_wait",
            "max_wait",
            "time_waited_micro",
            "event_id",
            "wait_class_id",
            "wait_class#",
            "wait_class",
            "con_id",
        ],
    },
    View {
        name: "v$session_longops",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SESSION_LONGOPS.html",
        columns: &[
            "sid",
            "serial#",
            "opname",
            "target",
            "target_desc",
            "sofar",
            "totalwork",
            "units",
            "start_time",
            "last_update_time",
            "timestamp",
            "time_remaining",
            "elapsed_seconds",
            "context",
            "message",
            "username",
            "sql_address",
            "sql_hash_value",
            "sql_id",
            "sql_plan_hash_value",
            "sql_exec_start",
            "sql_exec_id",
            "qcsid",
            "con_id",
        ],
    },
    View {
        name: "v$sort_segment",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SORT_SEGMENT.html",
        columns: &[
            "tablespace_name",
            "segment_file",
            "segment_block",
            "extent_size",
            "current_users",
            "total_extents",
            "total_blocks",
            "used_extents",
            "used_blocks",
            "free_extents",
            "free_blocks",
            "added_extents",
            "extent_hits",
            "freed_extents",
            "free_requests",
            "max_size",
            "max_blocks",
            "max_used_size",
            "max_used_blocks",
            "max_sort_size",
            "max_sort_blocks",
            "relative_fno",
            "ts#",
            "con_id",
        ],
    },
    View {
        name: "v$sql",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SQL.html",
        columns: &[
            "sql_text",
            "sql_fulltext",
            "sql_id",
            "sharable_mem",
            "sorts",
            "loaded_versions",
            "open_versions",
            "users_opening",
            "fetches",
            "executions",
            "px_servers_executions",
            "end_of_fetch_count",
            "users_executing",
            "loads",
            "first_load_time",
            "invalidations",
            "parse_calls",
            "disk_reads",
            "direct_writes",
            "buffer_gets",
            "application_wait_time",
            "concurrency_wait_time",
            "cluster_wait_time",
            "user_io_wait_time",
            "plsql_exec_time",
            "java_exec_time",
            "rows_processed",
            "command_type",
            "optimizer_mode",
            "optimizer_cost",
            "optimizer_env_hash_value",
            "parsing_user_id",
            "parsing_schema_id",
            "parsing_schema_name",
            "address",
            "hash_value",
            "plan_hash_value",
            "full_plan_hash_value",
            "child_number",
            "service",
            "module",
            "action",
            "cpu_time",
            "elapsed_time",
            "child_address",
            "object_status",
            "last_load_time",
            "is_obsolete",
            "is_bind_sensitive",
            "is_bind_aware",
            "is_shareable",
            "sql_profile",
            "sql_patch",
            "sql_plan_baseline",
            "exact_matching_signature",
            "force_matching_signature",
            "last_active_time",
            "physical_read_requests",
            "physical_read_bytes",
            "physical_write_requests",
            "physical_write_bytes",
            "con_id",
            "is_reoptimizable",
            "is_resolved_adaptive_plan",
        ],
    },
    View {
        name: "v$sql_bind_capture",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SQL_BIND_CAPTURE.html",
        columns: &[
            "address",
            "hash_value",
            "sql_id",
            "child_address",
            "child_number",
            "name",
            "position",
            "dup_position",
            "datatype",
            "datatype_string",
            "character_sid",
            "precision",
            "scale",
            "max_length",
            "was_captured",
            "last_captured",
            "value_string",
            "value_anydata",
            "con_id",
        ],
    },
    View {
        name: "v$sql_plan",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SQL_PLAN.html",
        columns: &[
            "address",
            "hash_value",
            "sql_id",
            "plan_hash_value",
            "full_plan_hash_value",
            "child_address",
            "child_number",
            "timestamp",
            "operation",
            "options",
            "object_node",
            "object#",
            "object_owner",
            "object_name",
            "object_alias",
            "object_type",
            "optimizer",
            "id",
            "parent_id",
            "depth",
            "position",
            "search_columns",
            "cost",
            "cardinality",
            "bytes",
            "other_tag",
            "partition_start",
            "partition_stop",
            "partition_id",
            "distribution",
            "cpu_cost",
            "io_cost",
            "temp_space",
            "access_predicates",
            "filter_predicates",
            "projection",
            "time",
            "qblock_name",
            "remarks",
            "other_xml",
            "con_id",
        ],
    },
    View {
        name: "v$sqlarea",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SQLAREA.html",
        columns: &[
            "sql_text",
            "sql_fulltext",
            "sql_id",
            "sharable_mem",
            "sorts",
            "version_count",
            "loaded_versions",
            "open_versions",
            "users_opening",
            "fetches",
            "executions",
            "px_servers_executions",
            "end_of_fetch_count",
            "users_executing",
            "loads",
            "first_load_time",
            "invalidations",
            "parse_calls",
            "disk_reads",
            "direct_writes",
            "buffer_gets",
            "application_wait_time",
            "concurrency_wait_time",
            "cluster_wait_time",
            "user_io_wait_time",
            "rows_processed",
            "command_type",
            "optimizer_mode",
            "optimizer_cost",
            "parsing_user_id",
            "parsing_schema_id",
            "parsing_schema_name",
            "address",
            "hash_value",
            "plan_hash_value",
            "module",
            "action",
            "cpu_time",
            "elapsed_time",
            "sql_profile",
            "exact_matching_signature",
            "force_matching_signature",
            "last_active_time",
            "last_load_time",
            "con_id",
        ],
    },
    View {
        name: "v$sysmetric",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SYSMETRIC.html",
        columns: &[
            "begin_time",
            "end_time",
            "intsize_csec",
            "group_id",
            "metric_id",
            "metric_name",
            "value",
            "metric_unit",
            "con_id",
        ],
    },
    View {
        name: "v$sysstat",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SYSSTAT.html",
        columns: &["statistic#", "name", "class", "value", "stat_id", "con_id"],
    },
    View {
        name: "v$system_event",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-SYSTEM_EVENT.html",
        columns: &[
            "event",
            "total_waits",
            "total_timeouts",
            "time_waited",
            "average_wait",
            "time_waited_micro",
            "total_waits_fg",
            "total_timeouts_fg",
            "time_waited_fg",
            "average_wait_fg",
            "time_waited_micro_fg",
            "event_id",
            "wait_class_id",
            "wait_class#",
            "wait_class",
            "con_id",
        ],
    },
    View {
        name: "v$tempseg_usage",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-TEMPSEG_USAGE.html",
        columns: &[
            "username",
            "user",
            "session_addr",
            "session_num",
            "sqladdr",
            "sqlhash",
            "sql_id",
            "tablespace",
            "contents",
            "segtype",
            "segfile#",
            "segblk#",
            "extents",
            "blocks",
            "segrfno#",
            "ts#",
            "con_id",
            "sql_id_tempseg",
        ],
    },
    View {
        name: "v$transaction",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-TRANSACTION.html",
        columns: &[
            "addr",
            "xidusn",
            "xidslot",
            "xidsqn",
            "status",
            "start_time",
            "start_scnb",
            "start_scnw",
            "ses_addr",
            "flag",
            "space",
            "recursive",
            "noundo",
            "name",
            "used_ublk",
            "used_urec",
            "log_io",
            "phy_io",
            "cr_get",
            "cr_change",
            "start_date",
            "start_scn",
            "xid",
            "con_id",
        ],
    },
    View {
        name: "v$undostat",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-UNDOSTAT.html",
        columns: &[
            "begin_time",
            "end_time",
            "undotsn",
            "undoblks",
            "txncount",
            "maxquerylen",
            "maxqueryid",
            "maxconcurrency",
            "unxpstealcnt",
            "unxpblkrelcnt",
            "unxpblkreucnt",
            "expstealcnt",
            "expblkrelcnt",
            "expblkreucnt",
            "ssolderrcnt",
            "nospaceerrcnt",
            "activeblks",
            "unexpiredblks",
            "expiredblks",
            "tuned_undoretention",
            "con_id",
        ],
    },
    View {
        name: "v$waitstat",
        url: "https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/V-WAITSTAT.html",
        columns: &["class", "count", "time", "con_id"],
    },
];

/// SQL words the tools' queries use that are neither columns nor functions.
const SQL_WORDS: &[&str] = &[
    "ALL",
    "AND",
    "AS",
    "ASC",
    "BETWEEN",
    "BY",
    "CASE",
    "CONNECT",
    "CROSS",
    "DATE",
    "DESC",
    "DISTINCT",
    "ELSE",
    "END",
    "EXISTS",
    "FETCH",
    "FIRST",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "IN",
    "INNER",
    "IS",
    "JOIN",
    "LAST",
    "LEFT",
    "LEVEL",
    "LIKE",
    "NEXT",
    "NOCYCLE",
    "NOT",
    "NULL",
    "NULLS",
    "ON",
    "ONLY",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRIOR",
    "RIGHT",
    "ROW",
    "ROWS",
    "SELECT",
    "SIBLINGS",
    "START",
    "THEN",
    "UNION",
    "WHEN",
    "WHERE",
    "WITH",
];

/// Oracle's reserved words (SQL Language Reference, "Oracle SQL Reserved Words"): a bind
/// variable named like one fails with ORA-01745, so no argument may be named like one.
/// https://docs.oracle.com/en/database/oracle/oracle-database/19/sqlrf/Oracle-SQL-Reserved-Words.html
const RESERVED: &[&str] = &[
    "access",
    "add",
    "all",
    "alter",
    "and",
    "any",
    "as",
    "asc",
    "audit",
    "between",
    "by",
    "char",
    "check",
    "cluster",
    "column",
    "comment",
    "compress",
    "connect",
    "create",
    "current",
    "date",
    "decimal",
    "default",
    "delete",
    "desc",
    "distinct",
    "drop",
    "else",
    "exclusive",
    "exists",
    "file",
    "float",
    "for",
    "from",
    "grant",
    "group",
    "having",
    "identified",
    "immediate",
    "in",
    "increment",
    "index",
    "initial",
    "insert",
    "integer",
    "intersect",
    "into",
    "is",
    "level",
    "like",
    "lock",
    "long",
    "maxextents",
    "minus",
    "mlslabel",
    "mode",
    "modify",
    "noaudit",
    "nocompress",
    "not",
    "nowait",
    "null",
    "number",
    "of",
    "offline",
    "on",
    "online",
    "option",
    "or",
    "order",
    "pctfree",
    "prior",
    "public",
    "raw",
    "rename",
    "resource",
    "revoke",
    "row",
    "rowid",
    "rownum",
    "rows",
    "select",
    "session",
    "set",
    "share",
    "size",
    "smallint",
    "start",
    "successful",
    "synonym",
    "sysdate",
    "table",
    "then",
    "to",
    "trigger",
    "uid",
    "union",
    "unique",
    "update",
    "user",
    "validate",
    "values",
    "varchar",
    "varchar2",
    "view",
    "whenever",
    "where",
    "with",
];

/// The reference product's twelve tools and the ones issue 11 adds, by the name they have here.
const EXPECTED: &[&str] = &[
    "ora_tablespace",
    "ora_parameters",
    "ora_storage",
    "ora_instance",
    "ora_query",
    "ora_sql_plan",
    "ora_sql_stats",
    "ora_table_stats",
    "ora_index_info",
    "ora_session",
    "ora_top_sql",
    "ora_wait_events",
    "ora_blocking_tree",
    "ora_ash",
    "ora_awr",
];

fn tools_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/tools/oracle")
}

/// Every file of `policies/tools/oracle/`, read as the policy loader reads it. Any error or
/// warning fails: a shipped tool must load cleanly.
fn load_all() -> Vec<ToolPolicy> {
    let mut problems: Vec<Problem> = Vec::new();
    let files = super::markdown_files(&tools_folder(), &mut problems);
    assert!(!files.is_empty(), "no tool files under {}", tools_folder().display());
    let mut tools = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a tool file is readable UTF-8");
        match ToolPolicy::from_document(&path, &markdown::parse(&text), Some(DbKind::Oracle), &mut problems) {
            Ok(tool) => tools.push(tool),
            Err(errors) => problems.extend(errors),
        }
    }
    assert!(problems.is_empty(), "{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    tools
}

fn is_statement_tool(tool: &ToolPolicy) -> bool {
    tool.arguments.iter().any(|argument| argument.kind == ArgumentKind::Statement)
}

/// A view as the catalog knows it. Every `V$` view has a `GV$` twin with the same columns plus
/// `INST_ID`, the instance a row comes from ("About Dynamic Performance Views",
/// https://docs.oracle.com/en/database/oracle/oracle-database/19/refrn/about-dynamic-performance-views.html),
/// so `gv$x` is `v$x` with `inst_id`.
fn lookup(name: &str) -> Option<(&'static View, bool)> {
    if let Some(view) = CATALOG.iter().find(|view| view.name == name) {
        return Some((view, false));
    }
    let local = name.strip_prefix('g').filter(|rest| rest.starts_with("v$"))?;
    CATALOG.iter().find(|view| view.name == local).map(|view| (view, true))
}

fn has_column(view: &View, global: bool, column: &str) -> bool {
    view.columns.contains(&column) || (global && column == "inst_id")
}

/// What a name in FROM or JOIN stands for.
#[derive(Clone, Copy)]
enum Source {
    /// A catalog view; `true` for its `GV$` twin.
    View(&'static View, bool),
    /// A CTE or an inline view: its columns are the aliases the query defines.
    Derived,
}

fn word_at(tokens: &[Token], index: usize) -> Option<String> {
    tokens.get(index).and_then(Token::word)
}

fn is_sql_word(word: &str) -> bool {
    SQL_WORDS.contains(&word)
}

/// The index just past the `)` matching the `(` at `open`.
fn past_close(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (index, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return index + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// Everything in `sql` that is not a documented view or column, in words for the test output.
/// Empty when the query reads only what [`CATALOG`] documents.
pub(super) fn undocumented(sql: &str) -> Vec<String> {
    let lexed = lex(sql, Dialect::Oracle);
    let tokens = &lexed.tokens;
    let mut problems = Vec::new();

    // CTE names: `WITH name AS (` and `, name AS (`.
    let mut ctes = BTreeSet::new();
    for index in 1..tokens.len() {
        let opens_cte =
            matches!(&tokens[index - 1], Token::Word(w) if w == "WITH") || tokens[index - 1] == Token::Punct(',');
        if opens_cte
            && let Some(name) = word_at(tokens, index)
            && tokens.get(index + 1).is_some_and(|t| t.is_word("AS"))
            && tokens.get(index + 2) == Some(&Token::Open)
        {
            ctes.insert(name.to_lowercase());
        }
    }

    // Sources and their aliases; `named` also holds the words that are alias definitions.
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    let mut source_words = BTreeSet::new();
    let mut add_source = |name: String, source: Source, problems: &mut Vec<String>| {
        if let (Some(Source::View(old, _)), Source::View(new, _)) = (sources.get(&name), source)
            && old.name != new.name
        {
            problems.push(format!("`{name}` names both {} and {}; use one alias per view", old.name, new.name));
        }
        sources.insert(name, source);
    };
    for index in 0..tokens.len() {
        if !(tokens[index].is_word("FROM") || tokens[index].is_word("JOIN")) {
            continue;
        }
        let (source, after) = match tokens.get(index + 1) {
            Some(Token::Open) => (Source::Derived, past_close(tokens, index + 1)),
            Some(Token::Word(name)) => {
                let name = name.to_lowercase();
                if tokens.get(index + 2) == Some(&Token::Punct('.')) {
                    problems.push(format!("FROM/JOIN `{name}.…`: name views unqualified, as the catalog does"));
                    continue;
                }
                source_words.insert(name.clone());
                let source = if ctes.contains(&name) {
                    Source::Derived
                } else if let Some((view, global)) = lookup(&name) {
                    Source::View(view, global)
                } else {
                    problems.push(format!("FROM/JOIN `{name}` is not a documented view in the catalog"));
                    continue;
                };
                add_source(name, source, &mut problems);
                (source, index + 2)
            }
            other => {
                problems.push(format!("FROM/JOIN followed by {other:?}"));
                continue;
            }
        };
        if let Some(alias) = word_at(tokens, after).filter(|word| !is_sql_word(word)) {
            source_words.insert(alias.to_lowercase());
            add_source(alias.to_lowercase(), source, &mut problems);
        }
    }

    let views: Vec<(&View, bool)> = sources
        .values()
        .filter_map(|source| match source {
            Source::View(view, global) => Some((*view, *global)),
            Source::Derived => None,
        })
        .collect();
    let any_column = |column: &str| views.iter().any(|(view, global)| has_column(view, *global, column));
    // Aliases the query defines (`expr AS name`), which ORDER BY and outer queries may name.
    let defined: BTreeSet<String> = tokens
        .windows(3)
        .filter(|w| w[0].is_word("AS") && w[2] != Token::Open)
        .filter_map(|w| w[1].word().map(|word| word.to_lowercase()))
        .collect();

    let mut qualified = BTreeSet::new();
    for index in 0..tokens.len().saturating_sub(2) {
        let (Some(qualifier), Token::Punct('.'), Some(column)) =
            (word_at(tokens, index), &tokens[index + 1], word_at(tokens, index + 2))
        else {
            continue;
        };
        let (qualifier, column) = (qualifier.to_lowercase(), column.to_lowercase());
        qualified.insert(index);
        qualified.insert(index + 2);
        match sources.get(&qualifier) {
            Some(Source::View(view, global)) => {
                if !has_column(view, *global, &column) {
                    problems.push(format!("`{qualifier}.{column}`: {} documents no column `{column}`", view.name));
                }
            }
            Some(Source::Derived) => {
                if !defined.contains(&column) && !any_column(&column) {
                    problems.push(format!("`{qualifier}.{column}`: `{qualifier}` defines no column `{column}`"));
                }
            }
            // `dbms_lob.substr(…)`: a package function, judged by the read-only gate.
            None if tokens.get(index + 3) == Some(&Token::Open) => {}
            None => problems.push(format!("`{qualifier}.{column}`: `{qualifier}` is not a view or alias of the query")),
        }
    }

    for (index, token) in tokens.iter().enumerate() {
        let Token::Word(word) = token else { continue };
        if qualified.contains(&index) || (index > 0 && tokens[index - 1] == Token::Punct('.')) {
            continue;
        }
        let lower = word.to_lowercase();
        let after_as = index > 0 && tokens[index - 1].is_word("AS");
        let known = is_sql_word(word)
            || ORACLE_BUILTINS.contains(&lower.as_str())
            || ctes.contains(&lower)
            || source_words.contains(&lower)
            || after_as
            || defined.contains(&lower)
            || any_column(&lower);
        if !known {
            problems.push(format!("`{lower}` is not a documented column of the query's views, an alias or a keyword"));
        }
    }
    problems
}

/// Every view a query reads, as the catalog names it (`gv$x` as `v$x`).
pub(super) fn views_read(sql: &str) -> BTreeSet<String> {
    let tokens = lex(sql, Dialect::Oracle).tokens;
    tokens
        .windows(2)
        .filter(|w| w[0].is_word("FROM") || w[0].is_word("JOIN"))
        .filter_map(|w| w[1].word())
        .filter_map(|name| lookup(&name.to_lowercase()).map(|(view, _)| view.name.to_owned()))
        .collect()
}

#[test]
fn every_oracle_tool_loads_and_names_are_unique() {
    let tools = load_all();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "duplicate tool names in {names:?}");
    for expected in EXPECTED {
        assert!(unique.contains(expected), "missing tool `{expected}`; have {names:?}");
    }
    assert!(tools.len() >= 15, "the reference's twelve plus the blocking tree, ASH and AWR: {names:?}");
    for tool in &tools {
        assert_eq!(tool.engine, DbKind::Oracle, "{}", tool.name);
        assert!(tool.name.starts_with("ora_"), "{}: Oracle tools are named ora_*", tool.name);
        let stem = tool.path.file_stem().map(|stem| stem.to_string_lossy().into_owned());
        assert_eq!(stem.as_deref(), Some(tool.name.as_str()), "{}: the file is named after the tool", tool.name);
        assert!(tool.description.len() >= 40, "{}: the description is how a tool is chosen", tool.name);
    }
}

#[test]
fn every_query_passes_the_oracle_read_only_gate() {
    let mut refused = Vec::new();
    for tool in load_all().iter().filter(|tool| !is_statement_tool(tool)) {
        for query in &tool.queries {
            if let Err(refusal) = read_only::check(&query.sql, Dialect::Oracle) {
                refused.push(format!("{} / {}: {}", tool.name, query.name, refusal.reason));
            }
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

#[test]
fn the_free_query_tool_only_places_its_gated_statement() {
    let tools = load_all();
    let statement_tools: Vec<&ToolPolicy> = tools.iter().filter(|tool| is_statement_tool(tool)).collect();
    assert_eq!(
        statement_tools.iter().map(|tool| tool.name.as_str()).collect::<Vec<_>>(),
        ["ora_query"],
        "only the guarded free query takes a statement"
    );
    let tool = statement_tools[0];
    let argument = tool.argument("sql").expect("ora_query takes `sql`");
    assert_eq!(argument.kind, ArgumentKind::Statement);
    assert!(argument.required && argument.default.is_none(), "the statement is always the caller's");
    assert_eq!(tool.arguments.len(), 1);
    assert_eq!(tool.queries.len(), 1);
    assert_eq!(tool.queries[0].sql.trim(), ":sql", "the query is the gated statement and nothing else");
}

#[test]
fn every_view_and_column_is_in_the_documented_catalog() {
    let mut problems = Vec::new();
    for tool in load_all().iter().filter(|tool| !is_statement_tool(tool)) {
        for query in &tool.queries {
            problems.extend(
                undocumented(&query.sql)
                    .into_iter()
                    .map(|problem| format!("{} / {} (line {}): {problem}", tool.name, query.name, query.line)),
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_catalog_check_refuses_misspelt_columns_and_unknown_views() {
    // A correct query passes, so the refusals below are about the mistakes, not the checker.
    let good = "SELECT s.sid, s.serial# AS serial, COUNT(*) AS n FROM gv$session s \
                JOIN v$process p ON p.addr = s.paddr WHERE s.inst_id = 1 AND status = 'ACTIVE' \
                GROUP BY s.sid, s.serial# ORDER BY n DESC";
    assert_eq!(undocumented(good), Vec::<String>::new());

    let cases = [
        ("SELECT s.sidd FROM v$session s", "v$session documents no column `sidd`"),
        ("SELECT sidd FROM v$session", "`sidd` is not a documented column"),
        ("SELECT s.tablespace_name FROM v$session s", "v$session documents no column `tablespace_name`"),
        ("SELECT s.inst_id FROM v$session s", "v$session documents no column `inst_id`"),
        ("SELECT x.sid FROM v$sessions x", "`v$sessions` is not a documented view"),
        ("SELECT q.sid FROM v$session s", "`q` is not a view or alias"),
        ("SELECT name FROM x$ksppi", "`x$ksppi` is not a documented view"),
        ("SELECT w.waiters FROM (SELECT COUNT(*) AS n FROM v$session s) w", "`w` defines no column `waiters`"),
        (
            "SELECT t.sid FROM v$session t JOIN v$transaction t ON t.addr = t.taddr",
            "names both v$session and v$transaction",
        ),
    ];
    for (sql, expected) in cases {
        let problems = undocumented(sql);
        assert!(
            problems.iter().any(|problem| problem.contains(expected)),
            "{sql}: wanted {expected:?}, got {problems:?}"
        );
    }
}

#[test]
fn only_the_diagnostics_pack_tools_read_ash_and_awr() {
    let tools = load_all();
    let mut pack_tools = Vec::new();
    for tool in &tools {
        let reads_pack = tool.queries.iter().any(|query| {
            lex(&query.sql, Dialect::Oracle).tokens.iter().filter_map(Token::name).any(|name| {
                name.starts_with("dba_hist_")
                    || name.ends_with("active_session_history")
                    || name.starts_with("cdb_hist_")
                    || name.starts_with("awr_")
            })
        });
        let requires = tool.requires.contains(&Requirement::DiagnosticsPack);
        assert_eq!(
            reads_pack, requires,
            "{}: reads ASH/AWR {reads_pack}, requires the Diagnostics Pack {requires}",
            tool.name
        );
        if requires {
            pack_tools.push(tool.name.as_str());
        }
    }
    pack_tools.sort_unstable();
    assert_eq!(pack_tools, ["ora_ash", "ora_awr"]);
}

#[test]
fn arguments_are_declared_used_and_safe_to_bind() {
    for tool in load_all() {
        let texts: Vec<&str> = tool.queries.iter().map(|query| query.sql.as_str()).collect();
        let mut placeholders = BTreeSet::new();
        let mut literals = BTreeSet::new();
        for text in &texts {
            for token in lex(text, Dialect::Oracle).tokens {
                match token {
                    Token::Placeholder(name) => {
                        placeholders.insert(name.to_lowercase());
                    }
                    Token::Str(value) => {
                        literals.insert(value);
                    }
                    _ => {}
                }
            }
        }
        for placeholder in &placeholders {
            let declared = tool.argument(placeholder).is_some();
            let owner_of = placeholder.strip_suffix("_schema").and_then(|base| tool.argument(base));
            let schema_scoped = owner_of.is_some_and(|argument| {
                matches!(
                    argument.kind,
                    ArgumentKind::Object(IdentifierKind::Table | IdentifierKind::Index | IdentifierKind::Sequence)
                )
            });
            assert!(
                declared || schema_scoped,
                "{}: `:{placeholder}` is neither an argument nor the owner of a schema-scoped one",
                tool.name
            );
        }
        for argument in &tool.arguments {
            assert!(
                placeholders.contains(&argument.name),
                "{}: argument `{}` is never used by a query",
                tool.name,
                argument.name
            );
            assert!(
                !RESERVED.contains(&argument.name.as_str()),
                "{}: `:{}` is an Oracle reserved word (ORA-01745 as a bind name)",
                tool.name,
                argument.name
            );
            assert!(
                !argument.description.is_empty(),
                "{}: argument `{}` needs a description",
                tool.name,
                argument.name
            );
            if let ArgumentKind::Choice(choices) = &argument.kind {
                // Every choice is compared somewhere (a CASE branch per metric), except that a
                // two-way switch tests one value and lets the other be the otherwise branch.
                let missing: Vec<&String> = choices.iter().filter(|choice| !literals.contains(*choice)).collect();
                let two_way = choices.len() == 2 && missing.len() == 1;
                assert!(
                    missing.is_empty() || two_way,
                    "{}: choices {missing:?} of `{}` are never compared in a query, so they change nothing",
                    tool.name,
                    argument.name
                );
            }
        }
    }
}

#[test]
fn column_aliases_are_lower_snake_case() {
    let snake = |text: &str| {
        text.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let mut wrong = Vec::new();
    for tool in load_all().iter().filter(|tool| !is_statement_tool(tool)) {
        for query in &tool.queries {
            let lexed = lex(&query.sql, Dialect::Oracle);
            for index in 1..lexed.tokens.len() {
                let is_alias = lexed.tokens[index - 1].is_word("AS")
                    && matches!(lexed.tokens[index], Token::Word(_))
                    && lexed.tokens.get(index + 1) != Some(&Token::Open)
                    && !lexed.tokens[index].is_word("DATE");
                let written = &query.sql[lexed.spans[index].clone()];
                if is_alias && !snake(written) {
                    wrong.push(format!("{} / {}: alias `{written}`", tool.name, query.name));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_catalog_is_documented_and_every_view_in_it_is_read() {
    let mut read = BTreeSet::new();
    for tool in load_all() {
        for query in &tool.queries {
            read.extend(views_read(&query.sql));
        }
    }
    // The Oracle check policies read from the same catalog (`oracle_check_tests.rs`).
    for sql in super::oracle_check_tests::health_queries() {
        read.extend(views_read(&sql));
    }
    let mut names = BTreeSet::new();
    for view in CATALOG {
        assert!(names.insert(view.name), "{} is in the catalog twice", view.name);
        assert!(view.url.starts_with(REFRN), "{}: cite the 19c Database Reference, not {}", view.name, view.url);
        let page = view.name.to_uppercase().replace("V$", "V-");
        assert!(view.url.ends_with(&format!("/{page}.html")), "{}: {} is not its page", view.name, view.url);
        let columns: BTreeSet<&str> = view.columns.iter().copied().collect();
        assert_eq!(columns.len(), view.columns.len(), "{}: a column is listed twice", view.name);
        assert!(
            view.columns
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "_#$".contains(ch))),
            "{}: columns are written lower case",
            view.name
        );
        assert!(read.contains(view.name), "{} is in the catalog but no tool or check reads it", view.name);
    }
}
