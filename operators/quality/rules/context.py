"""Prompts a text model cannot answer: input it cannot see, actions it cannot take."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
from sftforge.operators.quality.rules.arrow import _evidence, _match, _numpy, as_strings
from sftforge.operators.quality.rules.tokens import count_units

# Input a text model cannot see. Visual media need no context; charts, tables and documents only
# count when the prompt cannot be carrying them (no input and a short prompt, or an input that is
# just a link or file name).
_DEICTIC_EN = r"(?:this|that|these|those|the|following|given|attached|above|below|provided|uploaded|shown|enclosed|my|your)"
_STRONG_DEICTIC_EN = r"(?:this|these|the following|following|given|attached|above|below|provided|uploaded|shown|enclosed|linked)"
_VISUAL_EN = (
    rf"\b(?:{_DEICTIC_EN}\s+(?:[\w-]+\s+){{0,2}}?(?:image|picture|photo|photograph|pic|screenshot|video|"
    r"clip|audio|recording|gif|selfie|scan)s?)\b"
)
_VISUAL_MODIFIER_EN = (
    rf"\b{_DEICTIC_EN}\s+(?:[\w-]+\s+){{0,2}}?(?:image|picture|photo|video|audio|clip)s?\s+(?:game|games|"
    r"processing|recognition|classification|editing|editor|compression|format|formats|resolution|"
    r"generation|generator|model|models|conference|call|calls|streaming|search|sharing|platform|"
    r"library|file format|dataset)\b"
)
_CONTEXT_NOUNS_EN = (
    r"(?:graph|chart|diagram|figure|map|plot|drawing|sketch|infographic|slide|table|spreadsheet|file|"
    r"attachment|document|pdf|link|url|website|webpage|web page|article|email|blog post|paper|report|book|"
    r"presentation|code|text|passage|paragraph|poem|essay|story|sentence|data|dataset|list|recipe|letter|"
    r"transcript|conversation|dialogue|review)s?"
)
_CONTEXT_EN = (
    rf"\b(?:{_STRONG_DEICTIC_EN}\s+(?:[\w-]+\s+){{0,2}}?{_CONTEXT_NOUNS_EN}|the\s+(?:[\w-]+\s+){{0,2}}?"
    rf"{_CONTEXT_NOUNS_EN}\s+(?:below|above|provided|attached|shown|given|enclosed))\b"
)
_VISUAL_ZH = (
    "(?:(?:这|那|该|此|以下|下面|上面|下列|所给|给定|附件|附上|上传|所附)(?:一)?(?:张|幅|个|段|份|些|部)?"
    "(?:的)?(?:图片|图像|照片|相片|截图|视频|音频|录音|动图|画作|画)"
    "|(?:图片|图像|照片|截图|视频|录音)(?:中|里|上)|如图|上图|下图|见图|(?:^|[^试企意地])图中)"
    # What the user says they sent: "我发的照片", "刚上传的图", "发给你的表格", "附件里的合同", "请看附件".
    "|(?:发|传|拍|附|录|截)(?:给你|给您|上来|过来)?(?:的|了)(?:这|那)?(?:一)?(?:张|幅|个|段|份|些)?"
    "(?:图片|图像|照片|相片|截图|视频|音频|录音|图|文件|附件|表格|文档|合同|简历|PDF|pdf|链接)"
    "|附件(?:里|中|上)|(?:看|查看|打开|参考|根据|阅读|见)(?:一下|下)?(?:这个|该|我的)?附件"
    "|(?:这|那)(?:一)?张图|图(?:里|上)(?:的|这|那|有)"
)
_CONTEXT_ZH = (
    "(?:(?:这|这个|这篇|这份|这段|该|此|以下|下面|上面|下列|所给|给定|附件中?|上传|所附|附上)"
    "(?:一)?(?:张|幅|个|份|篇|段|首|封)?(?:的)?(?:图表|表格|地图|流程图|示意图|统计图|柱状图|折线图|饼图|思维导图|"
    "文件|文档|附件|链接|网址|网页|网站|PDF|pdf|邮件|文章|论文|报告|代码|文本|段落|这段话|句子|材料|数据|诗|故事|"
    "对话|列表|清单)|(?:这|那|以下|下面|上面)(?:一)?段话)"
)
# Classifying or judging something the prompt points at ("Classify the sentiment of the tweet", "判断这句
# 话的情感") needs that something; with no input and nothing inline there is nothing to classify.
_CLASSIFY_EN = (
    r"^[\s\pP]*(?:please\s+)?(?:classify|categori[sz]e|label|tag|sort|group|rate|rank|identify|detect|determine|"
    r"decide|tell(?: me)?|predict)\b(?:\s+[\w'-]+){0,4}?\s+(?:(?:this|these|those|the following|following|given|"
    r"above|below|provided|each of the)\b|the\s+(?:[\w-]+\s+){0,1}?(?:tweets?|reviews?|sentences?|texts?|"
    r"passages?|comments?|messages?|emails?|headlines?|articles?|statements?|items?|products?|words?|phrases?|"
    r"documents?|posts?|paragraphs?|examples?|list|data|input|user|customer|speaker|author|writer)\b)"
)
_POINTED_ZH = (
    "(?:这(?:一|几)?(?:句|段|条|些|篇|则|组|首)|这个(?:句子|词|词语|评论|文本|产品|商品|例子)|该(?:句|段|条|篇|则|组)|"
    "以下|下面|下列|上述|给定|所给)"
)
_CLASSIFY_VERB_ZH = "(?:判断|分类|归类|区分|标注|识别|分辨|分为|分成|评估|打分|归为|属于(?:哪|什么))"
_CLASSIFY_ZH = (
    f"{_CLASSIFY_VERB_ZH}[^，。？！：:\\n]{{0,8}}?{_POINTED_ZH}"
    f"|{_POINTED_ZH}[^，。？！：:\\n]{{0,10}}?{_CLASSIFY_VERB_ZH}"
)
# The instruction carries its own material: text after a colon or line break, or a quoted passage.
_INLINE_CONTENT = r"[:：\n]\s*\S.{10,}|[\"“'‘「].{8,}[\"”'’」]"
_POINTER_INPUT = (
    r"^\s*(?:https?://\S+|www\.\S+|\S+\.(?:png|jpe?g|gif|bmp|webp|svg|pdf|docx?|xlsx?|pptx?|csv|mp3|"
    r"mp4|wav|mov|avi)|<(?:image|img|video|audio|file|图片)>|\[(?:image|img|video|audio|file|图片|图像|视频|"
    r"文件)\])\s*$"
)


def unseen_inputs(instructions, inputs, prompt_units: np.ndarray | None = None,
                  max_context_free_units: int = 40) -> tuple[np.ndarray, list[str | None]]:
    """Prompts that refer to something the model cannot see (an image, an attached file, a chart).

    Pictures, photos, videos and audio referred to with a determiner ("the attached image", "这张图片")
    are never visible to a text model. Charts, tables, documents, articles and passages ("the following
    chart", "下面这段话") are visible when the prompt carries them, so they count only when there is no
    input and the prompt is short (``max_context_free_units``), or the input is just a link, a file name
    or an ``<image>`` marker. "The image processing library" and "this video game" are not references.
    """
    instructions, inputs = as_strings(instructions), as_strings(inputs)
    if prompt_units is None:
        prompt_units = count_units(pc.binary_join_element_wise(instructions, inputs, "\n"))
    no_input = _numpy(pc.utf8_length(pc.utf8_trim_whitespace(inputs))) == 0
    pointer = _match(inputs, _POINTER_INPUT)
    inline = _match(instructions, _INLINE_CONTENT)
    context_free = (no_input & ~inline & (prompt_units < max_context_free_units)) | pointer
    # Only the request itself can ask to look at something: the instruction up to its first colon or
    # line break. A passage after it (or in the input) that mentions "the video" is content.
    requests = pc.fill_null(pc.struct_field(pc.extract_regex(instructions, r"^(?P<head>[^:：\n]*)"), [0]), "")
    visual = _match(requests, _VISUAL_EN) & ~_match(requests, _VISUAL_MODIFIER_EN)
    visual |= _match(requests, _VISUAL_ZH)
    context = context_free & (_match(requests, _CONTEXT_EN) | _match(requests, _CONTEXT_ZH))
    classify = context_free & ~visual & ~context
    classify &= _match(requests, _CLASSIFY_EN) | _match(requests, _CLASSIFY_ZH)
    flags = visual | context
    evidence = _evidence(requests, f"{_VISUAL_EN}|{_VISUAL_ZH}", visual)
    for row, text in enumerate(_evidence(requests, f"{_CONTEXT_EN}|{_CONTEXT_ZH}", context & ~visual)):
        if text is not None:
            evidence[row] = text
    for row, text in enumerate(_evidence(requests, f"{_CLASSIFY_EN}|{_CLASSIFY_ZH}", classify)):
        if text is not None:
            evidence[row] = f"{text} (no input)"
    return flags | classify, evidence


_POLITE_EN = r"(?:please\s+|kindly\s+|can you\s+|could you\s+|would you\s+|will you\s+|i want you to\s+|i need you to\s+)?"
_ACTION_START_EN = (
    rf"^[\s\pP]*{_POLITE_EN}(?:(?:draw|sketch|paint|doodle|plot)\b|take an? (?:photo|picture|"
    r"photograph|selfie)|record (?:an? |the |my |your )?(?:video|audio|song|podcast|voice)|film\b|go to\b|visit\b|"
    r"browse\b|click\b|download\b|upload\b|open (?:the|this|a|my|your|an)\s|call (?:me|my|him|her|them|the|this|"
    r"\+?\d)|phone\b|text (?:me|my|him|her|them)\b|send (?:an? |the |this |my )?(?:email|e-mail|message|text|"
    r"sms|letter|fax|invitation|invite)s? to|book (?:an? |the |me )?(?:flight|table|hotel|ticket|room|"
    r"appointment|reservation)|order (?:an? |the |me |some )?(?:pizza|food|taxi|uber|ride|delivery|groceries)|"
    r"buy\b|purchase\b|print\b|play (?:[\w-]+ ){0,2}(?:songs?|music|videos?|audio|tracks?|albums?|"
    r"sounds?|movies?|playlists?|podcasts?)|watch\b|listen to\b|search (?:the web|the internet|online|google)|look up\b|set (?:an? |the )?"
    r"(?:alarm|reminder|timer)|turn (?:on|off)\b|remind me)"
)
_ACTION_ANYWHERE_EN = (
    r"\b(?:(?:go to|visit|open|browse|navigate to|click(?: on)?)\s+(?:the |this |that |my |our |your )?"
    r"(?:website|site|web ?page|link|url)\b|(?:go to|visit|open|browse|navigate to)\s+(?:https?://|www\.)\S+)"
)
_ACTION_EXEMPT_EN = (
    r"^[\s\pP]*" + _POLITE_EN + r"(?:draw (?:a |an |the |your |some |any )?(?:conclusions?|inferences?|"
    r"comparisons?|parallels?|distinctions?|lines?|attention|analog(?:y|ies)|lessons?|upon|on|from)\b|paint "
    r"(?:a |an )?(?:\w+ )?picture (?:of|with)|look up to\b|watch (?:out|for)\b)"
)
_CODE_CONTEXT = (
    r"\b(?:python|javascript|typescript|java|c\+\+|c#|golang|rust|code|program|script|function|"
    r"matplotlib|seaborn|plotly|ggplot2?|latex|tikz|svg|ascii|mermaid|graphviz|html|css|sql|excel|turtle|"
    r"pseudo-?code|markdown|console|terminal|bash|shell)\b|代码|程序|编程|函数|脚本|命令行"
)
_POLITE_ZH = "(?:请你?|帮我|麻烦你?|你能(?:不能)?|你可以|能否|可以|能不能|我想让你|我需要你)?(?:帮我|为我|给我)?"
_ZH_TARGET = "(?:这个|该|以下|下面|此|链接|网页|网站|网址|附件|文件|http|www)"
_ACTION_ZH = (
    f"(?:^[\\s\\pP]*{_POLITE_ZH}(?:画(?:一|个|出|幅|张|只|条|下|些|两|三)|绘制|拍(?:一|张|下|摄|照)|"
    f"录(?:制|一段|下)|播放|(?:打开|访问|浏览|点击|下载|上传){_ZH_TARGET}|(?:打|拨打|拨)(?:个|一个|一通)?电话|"
    "发(?:送)?(?:一封)?(?:邮件|短信|消息)给|预订|预定|订.{0,12}?(?:机票|酒店|火车票|车票|门票|餐厅|座位|房间)|购买|买一|"
    "去(?:一趟)?(?:超市|商店|银行|网站)|打印|提醒我|设(?:置)?(?:一个)?(?:闹钟|提醒))"
    "|(?:访问|打开|点击|浏览|进入)(?:这个|该|以下|下面|此)?(?:链接|网址|网站|网页)|(?:访问|打开|点击)\\s*(?:https?://|www\\.))"
)


def impossible_actions(instructions) -> tuple[np.ndarray, list[str | None]]:
    """Instructions to act in the world (draw, take a photo, go to a website, call, buy, 画一幅, 打开链接).

    A request to draw or plot *with code* ("plot the data in matplotlib", "用Python画一个圆") is
    answerable, as are idioms ("draw a conclusion", "paint a picture of life in 1900").
    """
    values = as_strings(instructions)
    pattern = f"{_ACTION_START_EN}|{_ACTION_ANYWHERE_EN}|{_ACTION_ZH}"
    flags = _match(values, pattern) & ~_match(values, _ACTION_EXEMPT_EN) & ~_match(values, _CODE_CONTEXT)
    return flags, _evidence(values, pattern, flags)
