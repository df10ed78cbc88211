function nauthilus_call_filter(request)
    local t = nil
    return t.field, 0
end
